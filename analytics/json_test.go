package analytics

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	_, raws := loadGolden(t)
	var recs []Record
	for _, raw := range raws {
		r, err := Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	recs = append(recs, Record{
		Username: "ctl\x00\x1f\"\\\t\r\n", Effect: "bad\xffutf8", Conclusion: "sep\u2028\u2029",
		Request: "<html>&", ExpireAt: time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC),
	})
	for i, r := range recs {
		got, err := AppendJSON(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		var back, want map[string]any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("record %d: AppendJSON wrote invalid JSON %s: %v", i, got, err)
		}
		std, _ := json.Marshal(r)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if back[k] != v {
				t.Errorf("record %d field %s: got %#v, encoding/json %#v", i, k, back[k], v)
			}
		}
		if len(back) != len(want) {
			t.Errorf("record %d: %d fields, encoding/json has %d", i, len(back), len(want))
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("quote\" back\\ nl\n \x01 \xff \u2028")
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(AppendJSONString(nil, s), &got); err != nil {
			t.Fatalf("invalid JSON for %q: %v", s, err)
		}
		var want string
		std, _ := json.Marshal(s)
		_ = json.Unmarshal(std, &want)
		if got != want {
			t.Fatalf("got %q, encoding/json %q", got, want)
		}
	})
}

func TestAppendJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	r := Record{ExpireAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(r); err == nil {
		t.Fatal("encoding/json accepts year 10000 now: revisit AppendJSON")
	}
	if b, err := AppendJSON([]byte("x"), &r); !errors.Is(err, ErrJSONTime) || string(b) != "x" {
		t.Fatalf("AppendJSON = %q, %v; want the buffer unchanged and ErrJSONTime", b, err)
	}
}

func TestAppendJSONAppendsTheEncodingTheRecordCarries(t *testing.T) {
	r := Record{Username: "peter", Policies: "p", Deciders: "d"}
	r.JSON = []byte(`{"already":"encoded"}`)
	if got, err := AppendJSON([]byte("x"), &r); err != nil || string(got) != `x{"already":"encoded"}` {
		t.Fatalf("AppendJSON = %q, %v; want the carried bytes after x", got, err)
	}
	r.OmitDetails()
	got, err := AppendJSON(nil, &r)
	if err != nil || !strings.Contains(string(got), `"username":"peter"`) || !strings.Contains(string(got), `"policies":"","deciders":""`) {
		t.Fatalf("after OmitDetails AppendJSON = %s, %v; want the record encoded afresh without details", got, err)
	}
}
