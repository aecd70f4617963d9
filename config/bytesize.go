package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a number of bytes, written as a plain number or with a unit:
// 512KiB, 8MiB, 1GiB (powers of 1024) or 500kB, 8MB, 1GB (powers of 1000).
type ByteSize int64

// byteUnits are the suffixes ParseByteSize takes, longest first so "MiB"
// is not read as "B".
var byteUnits = []struct {
	suffix string
	factor float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// ParseByteSize reads s as a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	num := strings.TrimSpace(s)
	factor := 1.0
	lower := strings.ToLower(num)
	for _, u := range byteUnits {
		if strings.HasSuffix(lower, u.suffix) {
			num, factor = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.factor
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*factor > math.MaxInt64/2 {
		return 0, fmt.Errorf("want a size such as 8MiB, 512KiB or a number of bytes, got %q", s)
	}
	return ByteSize(v * factor), nil
}

// UnmarshalYAML accepts a number or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a size such as 8MiB, 512KiB or a number of bytes")
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML writes the size as String does.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// String writes the size in the largest power-of-1024 unit that holds it
// exactly: 8MiB, 1536KiB, 1000 (bytes).
func (b ByteSize) String() string {
	for _, u := range []struct {
		name string
		size ByteSize
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// byteSizeFlag reads a size as the file does.
type byteSizeFlag ByteSize

func (f *byteSizeFlag) String() string { return ByteSize(*f).String() }
func (f *byteSizeFlag) Type() string   { return "bytes" }

func (f *byteSizeFlag) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*f = byteSizeFlag(v)
	return nil
}
