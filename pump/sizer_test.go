package pump

import (
	"slices"
	"testing"
)

// sizes makes a reply of elements of the given lengths.
func sizes(lens ...int) [][]byte {
	out := make([][]byte, len(lens))
	for i, n := range lens {
		out[i] = make([]byte, n)
	}
	return out
}

func lens(elems [][]byte) []int {
	out := make([]int, len(elems))
	for i, e := range elems {
		out[i] = len(e)
	}
	return out
}

func repeat(n, size int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = size
	}
	return out
}

func TestSizerCutsEachReplyToTheBudget(t *testing.T) {
	cases := []struct {
		name   string
		budget int64
		reply  []int
		kept   []int
	}{
		{"an empty reply stays empty", 100, nil, nil},
		{"a reply within the budget is kept whole", 100, []int{30, 30, 40}, []int{30, 30, 40}},
		{"the record that would cross the budget starts the next batch", 100, []int{30, 30, 41, 5}, []int{30, 30}},
		{"a record bigger than the budget goes alone", 100, []int{500, 10, 10}, []int{500}},
		{"records before a big one go without it", 100, []int{10, 20, 500, 10}, []int{10, 20}},
		{"a record of exactly the budget fits", 100, []int{100, 1}, []int{100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSizer(1000, c.budget)
			reply := sizes(c.reply...)
			full := reply[:len(reply):len(reply)]
			got := s.cut(reply)
			if !slices.Equal(lens(got), c.kept) && !(len(got) == 0 && len(c.kept) == 0) {
				t.Fatalf("kept %v of %v, want %v", lens(got), c.reply, c.kept)
			}
			for i := len(got); i < len(full); i++ {
				if full[i] != nil {
					t.Errorf("cut element %d still referenced by the reply's array: its memory is not freed", i)
				}
			}
		})
	}
}

func TestSizerSizesReadsFromTheBytesSeen(t *testing.T) {
	const budget = 8 << 20
	type read struct {
		want  int64 // records next asks for
		reply []int // what the list holds from there on
	}
	cases := []struct {
		name      string
		batchSize int
		reads     []read
	}{
		{"small records: slow start, then batch-size", 1000, []read{
			{slowStart, repeat(slowStart, 650)},
			{1000, repeat(1000, 650)},
			{1000, nil},
		}},
		{"batch-size below the slow start", 2, []read{{2, repeat(2, 650)}, {2, nil}}},
		{"400 KB records: the budget's worth", 1000, []read{
			{slowStart, repeat(slowStart, 400<<10)},
			{20, repeat(20, 400<<10)},
			{20, nil},
		}},
		{"a huge record: one at a time, then back to the budget's worth by halves", 1000, []read{
			{slowStart, repeat(slowStart, 400<<10)},
			{20, append(repeat(19, 400<<10), 24<<20)}, // the whole reply is seen, the huge one cut
			{5, append([]int{24 << 20}, repeat(4, 400<<10)...)},
			{1, repeat(1, 400<<10)},
			{2, repeat(2, 400<<10)},
			{5, repeat(5, 400<<10)},
			{8, repeat(8, 400<<10)},
			{11, nil},
		}},
		{"records that grow: the next read follows at once", 1000, []read{
			{slowStart, repeat(slowStart, 1<<10)},
			{1000, repeat(1000, 1<<20)},
			{8, nil},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSizer(c.batchSize, budget)
			for i, r := range c.reads {
				if got := s.next(); got != r.want {
					t.Fatalf("read %d asks for %d records, want %d", i+1, got, r.want)
				}
				n := min(len(r.reply), int(r.want))
				kept := s.cut(sizes(r.reply[:n]...))
				var bytes int64
				for _, e := range kept {
					bytes += int64(len(e))
				}
				if len(kept) > 1 && bytes > budget {
					t.Errorf("read %d kept %d records of %d bytes: over the budget of %d", i+1, len(kept), bytes, budget)
				}
			}
		})
	}
}

func TestSizerReadsARecordOverTheBudgetIntoAnEmptyWindow(t *testing.T) {
	cases := []struct {
		name  string
		reply []int
		empty bool
	}{
		{"nothing cut", []int{30, 30}, false},
		{"a record within the budget cut", []int{60, 60}, false},
		{"a record over the budget cut", []int{60, 500, 10}, true},
		{"the record over the budget read alone", []int{500, 10}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSizer(1000, 100)
			s.cut(sizes(c.reply...))
			if got := s.needsEmptyWindow(); got != c.empty {
				t.Errorf("needsEmptyWindow() = %v, want %v", got, c.empty)
			}
		})
	}
}
