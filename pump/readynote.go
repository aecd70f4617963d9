package pump

import "strings"

// ReadyNote is what a passing readiness answer adds: the pumps that are
// down, by PumpsDown. A pump down does not make the daemon unready (it
// parks that pump's records and goes on with the others), but whoever asks
// should learn of it. "" when none is down.
func (h *Health) ReadyNote() string {
	if h.PumpsDown == nil {
		return ""
	}
	down := h.PumpsDown()
	if len(down) == 0 {
		return ""
	}
	return "pumps down, their records parked: " + strings.Join(down, ", ")
}

// DownNames names the outputs that are down (state failing or parking),
// each with its state, for Health.PumpsDown.
func DownNames(outputs []*Output) []string {
	var down []string
	for _, out := range outputs {
		if st := out.State(); st != "writing" {
			down = append(down, out.Name+" ("+st+")")
		}
	}
	return down
}
