package testutil

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
)

// ReadJSONLines reads the records a jsonl (or faulty) sink wrote; a missing
// file holds none.
func ReadJSONLines(t testing.TB, path string) []analytics.Record {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []analytics.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r analytics.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ReadCSVDir reads every row of the hourly CSV files in dir, in the order
// of their hours, checking each file starts with the header.
func ReadCSVDir(t testing.TB, dir string, header []string) [][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	hours := make(map[string]time.Time, len(files))
	for _, name := range files {
		hours[name] = csvFileHour(t, name)
	}
	sort.Slice(files, func(i, j int) bool { return hours[files[i]].Before(hours[files[j]]) })
	var rows [][]string
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		all, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s is not valid CSV: %v", name, err)
		}
		if len(all) == 0 || len(all[0]) != len(header) || all[0][0] != header[0] {
			t.Fatalf("%s does not start with the header %v", name, header)
		}
		rows = append(rows, all[1:]...)
	}
	return rows
}

// csvFileHour reads the hour from a csv file's name in either of the csv
// sink's formats (iam's 2026-December-1-9.csv or 2026-12-01-09.csv): iam's
// names do not sort in time order.
func csvFileHour(t testing.TB, path string) time.Time {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(path), ".csv")
	for _, layout := range []string{"2006-January-2-15", "2006-01-02-15"} {
		if h, err := time.Parse(layout, name); err == nil {
			return h
		}
	}
	t.Fatalf("%s: not an hourly csv file name", path)
	return time.Time{}
}

// Account counts ids: how many of want are present, missing, duplicated.
type Account struct {
	Seen       map[string]int
	Missing    []string
	Duplicates int
}

// Tally checks ids against the seeded range from..to-1.
func Tally(ids []string, from, to int) Account {
	a := Account{Seen: map[string]int{}}
	for _, id := range ids {
		a.Seen[id]++
		if a.Seen[id] == 2 {
			a.Duplicates++
		} else if a.Seen[id] > 2 {
			a.Duplicates++
		}
	}
	for i := from; i < to; i++ {
		if a.Seen[RecordID(i)] == 0 {
			a.Missing = append(a.Missing, RecordID(i))
		}
	}
	return a
}

// HTTPStatus GETs url and returns the status code (0 when unreachable).
func HTTPStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// CountLines counts the lines of a file without parsing them (0 when it
// does not exist): cheap enough to poll on a large output.
func CountLines(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte{'\n'})
}
