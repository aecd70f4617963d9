package produce

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/pumpd/pump/analytics"
)

// Generator makes synthetic records shaped like iam's: a ladon request of a
// few users, one decision in four a deny. Each is distinct: the n-th
// carries "id=<prefix>-<n>" at the end of its Conclusion (where the tests'
// seeded records carry theirs), so a sink's output can be checked record by
// record. A Generator is not safe for concurrent use.
type Generator struct {
	prefix string
	n      int
	rnd    *rand.Rand
}

var users = []string{"peter", "maria", "ken", "admin", "ops-bot"}

// NewGenerator returns a generator whose ids start with prefix; seed fixes
// the sequence of users and decisions.
func NewGenerator(prefix string, seed uint64) *Generator {
	return &Generator{prefix: prefix, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// ID is the id the n-th record (from 0) carries.
func (g *Generator) ID(n int) string { return g.prefix + "-" + strconv.Itoa(n) }

// Count is how many records the generator made.
func (g *Generator) Count() int { return g.n }

// Next returns the next record, decided at now: its timestamp, and an
// expiry 100 years later as iam sets.
func (g *Generator) Next(now time.Time) analytics.Record {
	user := users[g.rnd.IntN(len(users))]
	effect, conclusion := "allow", "policies 68819e5a allow access"
	if g.rnd.IntN(4) == 0 {
		effect, conclusion = "deny", "policy deny-all-printers forcefully denied the access"
	}
	id := g.ID(g.n)
	g.n++
	return analytics.Record{
		TimeStamp:  now.Unix(),
		Username:   user,
		Effect:     effect,
		Conclusion: conclusion + ", id=" + id,
		Request:    fmt.Sprintf(`{"resource":"resources:printer","action":"print","subject":"users:%s","context":{"remoteIP":"192.168.0.%d"}}`, user, g.rnd.IntN(254)+1),
		Policies:   `[{"id":"68819e5a","effect":"allow","subjects":["users:<peter|ken>"],"resources":["resources:<.*>"]}]`,
		Deciders:   `[{"id":"68819e5a","effect":"allow"}]`,
		ExpireAt:   now.AddDate(100, 0, 0),
	}
}

// Records returns the next n records, decided at now.
func (g *Generator) Records(n int, now time.Time) []analytics.Record {
	out := make([]analytics.Record, n)
	for i := range out {
		out[i] = g.Next(now)
	}
	return out
}
