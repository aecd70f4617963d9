package kafka

import (
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes, against kfake; the topic
// is read back from the start.
func TestConformance(t *testing.T) {
	c := startKafka(t)
	sinktest.Run(t, sinktest.Target{
		New:  func() pumps.Sink { return New() },
		Meta: pumps.Meta{"broker": brokerList(c), "topic": topic},
		Read: func(t *testing.T) []analytics.Record {
			n := endOffset(t, c.ListenAddrs())
			var out []analytics.Record
			for i, msg := range consume(t, c.ListenAddrs(), int(n)) {
				var rec analytics.Record
				if err := json.Unmarshal(msg.Value, &rec); err != nil {
					t.Fatalf("message %d is not a record: %v", i, err)
				}
				out = append(out, rec)
			}
			return out
		},
		// Produce requests are held, unanswered, until restore.
		Stall: func(t *testing.T) func() {
			release := make(chan struct{})
			c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				<-release
				return nil, nil, false
			})
			return func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}
		},
	})
}
