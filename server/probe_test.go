package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProbeAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		note     func() string
		wantCode int
		wantBody string
	}{
		{"passing", nil, nil, 200, "ok\n"},
		{"passing with an empty note", nil, func() string { return "" }, 200, "ok\n"},
		{"passing with a note", nil, func() string { return "pumps down, their records parked: a (failing)" }, 200,
			"ok; pumps down, their records parked: a (failing)\n"},
		{"failing: the note is not asked", errors.New("starting"), func() string { panic("asked") }, 503, "not ok: starting\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			probe(func() error { return tc.err }, tc.note).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tc.wantCode || rec.Body.String() != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.wantCode, tc.wantBody)
			}
		})
	}
}
