package testutil

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/redis/go-redis/v9"
)

// RecordID is the unique id a seeded record carries in its Conclusion, so
// tests can account for every record in a sink's output.
func RecordID(i int) string { return "rec-" + strconv.Itoa(i) }

// IDOf extracts the id a seeded record carries ("" when it has none).
func IDOf(r analytics.Record) string {
	_, id, ok := strings.Cut(r.Conclusion, "id=")
	if !ok {
		return ""
	}
	return id
}

// MakeRecord builds the i-th seeded record, shaped like iam's: a ladon
// request and policy JSON of realistic size, a username out of a few.
func MakeRecord(i int) analytics.Record {
	user := fmt.Sprintf("user-%d", i%7)
	effect := "allow"
	if i%3 == 0 {
		effect = "deny"
	}
	return analytics.Record{
		TimeStamp:  1764057600 + int64(i),
		Username:   user,
		Effect:     effect,
		Conclusion: "policies decided, id=" + RecordID(i),
		Request: `{"resource":"resources:articles:ladon-introduction","action":"delete","subject":"users:` + user +
			`","context":{"remoteIP":"192.168.0.5","username":"` + user + `"}}`,
		Policies: `[{"id":"68819e5a-738b-41ec-b03c-b58a1b19d043","description":"One policy to rule them all.",` +
			`"subjects":["users:<peter|ken>","users:maria","groups:admins"],"effect":"allow","resources":["resources:articles:<.*>"],"actions":["delete","<create|update>"]}]`,
		Deciders: `[{"id":"68819e5a-738b-41ec-b03c-b58a1b19d043","effect":"allow"}]`,
		ExpireAt: time.Unix(1764057600+int64(i), 0).AddDate(100, 0, 0).UTC(),
	}
}

// EncodedRecord is MakeRecord(i) in iam's wire format.
func EncodedRecord(t testing.TB, i int) []byte {
	rec := MakeRecord(i)
	b, err := analytics.Encode(&rec)
	if err != nil {
		t.Fatalf("encode record %d: %v", i, err)
	}
	return b
}

// Seed RPUSHes records from..to-1 onto key in chunks, as iam's servers do.
func Seed(t testing.TB, c redis.UniversalClient, key string, from, to int) {
	t.Helper()
	ctx := context.Background()
	const chunk = 1000
	for start := from; start < to; start += chunk {
		end := min(start+chunk, to)
		vals := make([]any, 0, end-start)
		for i := start; i < end; i++ {
			vals = append(vals, EncodedRecord(t, i))
		}
		if err := c.RPush(ctx, key, vals...).Err(); err != nil {
			t.Fatalf("seed records %d..%d: %v", start, end, err)
		}
	}
}
