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
}

func newSizer(maxRecords int, maxBytes int64) *sizer {
	return &sizer{maxRecords: max(1, maxRecords), maxBytes: max(1, maxBytes)}
}

// next is how many records the next read should ask for.
func (s *sizer) next() int64 {
	if s.perRecord == 0 {
		return int64(min(slowStart, s.maxRecords))
	}
	return min(max(1, s.maxBytes/s.perRecord), int64(s.maxRecords))
}

// cut learns from a reply and returns the part of it that fits the budget:
// the longest prefix within maxBytes, at least its first record. The cut
// records are cleared from elems, so the reply's memory goes with them.
func (s *sizer) cut(elems [][]byte) [][]byte {
	if len(elems) == 0 {
		return elems
	}
	var total, kept int64
	keep := len(elems)
	for i, e := range elems {
		total += int64(len(e))
		if i > 0 && keep == len(elems) && kept+int64(len(e)) > s.maxBytes {
			keep = i
		}
		if keep == len(elems) {
			kept += int64(len(e))
		}
	}
	per := max(1, total/int64(len(elems)))
	if per >= s.perRecord {
		s.perRecord = per
	} else {
		s.perRecord = (s.perRecord + per) / 2
	}
	clear(elems[keep:])
	return elems[:keep:keep]
}
