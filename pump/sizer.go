package pump

// slowStart is how many records the first read of a drain asks for, before
// the sizer has seen how big they are.
const slowStart = 4

// sizer bounds the drain's batches in bytes as well as in records. It sizes
// each read of the list from the bytes per record seen so far, so a reply
// overshoots the byte budget by little, and cuts each reply to the budget,
// so a batch never exceeds it: a record bigger than the budget goes alone.
// A reader's count of the records it kept moves its offset; what was cut is
// read again with the next batch.
type sizer struct {
	maxRecords int
	maxBytes   int64
	// perRecord estimates the bytes of the next records, 0 before the
	// first read. It follows a rise at once, for a reply that overshoots
	// costs memory, and a fall by halves, so one huge record does not leave
	// the batches small for long.
	perRecord int64
	// ahead is the size of the record the last cut left at the head of
	// the next read, 0 when nothing was cut.
	ahead int64
	// readMax bounds the next read below maxBytes when the read-ahead
	// window has less room (see bound); 0: maxBytes.
	readMax int64
}

func newSizer(maxRecords int, maxBytes int64) *sizer {
	return &sizer{maxRecords: max(1, maxRecords), maxBytes: max(1, maxBytes)}
}

// bound limits the next read to room bytes (and to maxBytes), for the
// read-ahead window's budget.
func (s *sizer) bound(room int64) { s.readMax = max(1, min(room, s.maxBytes)) }

// budget is the next read's bytes at most.
func (s *sizer) budget() int64 {
	if s.readMax > 0 {
		return s.readMax
	}
	return s.maxBytes
}

// nextRecord estimates the bytes of the next record: the one the last cut
// left at the head, else the average seen.
func (s *sizer) nextRecord() int64 {
	if s.ahead > 0 {
		return s.ahead
	}
	return s.perRecord
}

// next is how many records the next read should ask for.
func (s *sizer) next() int64 {
	if s.perRecord == 0 {
		return int64(min(slowStart, s.maxRecords))
	}
	return min(max(1, s.budget()/s.perRecord), int64(s.maxRecords))
}

// cut learns from a reply and returns the part of it that fits the budget:
// the longest prefix within the budget, at least its first record. The cut
// records are cleared from elems, so the reply's memory goes with them.
func (s *sizer) cut(elems [][]byte) [][]byte {
	if len(elems) == 0 {
		return elems
	}
	var total, kept int64
	keep := len(elems)
	for i, e := range elems {
		total += int64(len(e))
		if i > 0 && keep == len(elems) && kept+int64(len(e)) > s.budget() {
			keep = i
		}
		if keep == len(elems) {
			kept += int64(len(e))
		}
	}
	s.learn(total, len(elems))
	if keep < len(elems) {
		s.ahead = int64(len(elems[keep]))
	}
	clear(elems[keep:])
	return elems[:keep:keep]
}

// learn takes in a reply of n records and total bytes that is kept whole
// (a stream's entries, delivered to this consumer once read).
func (s *sizer) learn(total int64, n int) {
	s.ahead = 0
	if n == 0 {
		return
	}
	per := max(1, total/int64(n))
	if per >= s.perRecord {
		s.perRecord = per
	} else {
		s.perRecord = (s.perRecord + per) / 2
	}
}

// needsEmptyWindow says the next read starts with a record known to be
// bigger than the budget: it is read into an empty read-ahead window
// rather than beside full batches.
func (s *sizer) needsEmptyWindow() bool { return s.ahead > s.maxBytes }
