package pump

// spares keeps the slices of finished batches for later ones. A batch's
// records are ~220 bytes each, and each pump takes its own copy: without
// them a drain allocates, and the collector then sweeps, two such slices
// per batch per pump. A nil spares keeps nothing.
type spares[T any] chan []T

func newSpares[T any](n int) spares[T] { return make(spares[T], n) }

// get returns an empty slice with room for n, a kept one when there is one.
func (s spares[T]) get(n int) []T {
	select {
	case b := <-s:
		if cap(b) >= n {
			return b
		}
	default:
	}
	return make([]T, 0, n)
}

// put keeps b for a later get, once nothing reads it any more. It is
// cleared first: the records it held would otherwise keep their batch's
// raw elements from the collector.
func (s spares[T]) put(b []T) {
	if s == nil || cap(b) == 0 {
		return
	}
	b = b[:cap(b)]
	clear(b)
	select {
	case s <- b[:0]:
	default:
	}
}
