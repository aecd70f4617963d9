package storage

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// oomShebang lets a script run on a Redis that is out of memory (maxmemory
// with noeviction): without it Redis 7 refuses the first write that may
// grow memory (the lease's SET, the dead letters' RPUSH), so a full Redis
// could never be drained. Every script of ours frees at least what it adds
// (a trim removes a batch, a lease is a few bytes), so the flag is safe.
// Redis 7.0 reads it; Redis 6 cannot compile it and gets the plain body.
const oomShebang = "#!lua flags=allow-oom\n"

// script is one Lua script in two forms: with oomShebang, and plain for
// servers older than Redis 7, which do not know shebangs.
type script struct {
	flagged, plain *redis.Script
}

// newScript returns body with the allow-oom shebang, and plain as fallback.
func newScript(body string) *script { return newScriptWith(oomShebang, body) }

func newScriptWith(shebang, body string) *script {
	return &script{flagged: redis.NewScript(shebang + body), plain: redis.NewScript(body)}
}

// plainClients are the clients whose server refused a shebang: they get
// the plain scripts from then on, so each learns it once.
var plainClients sync.Map // redis.Scripter → struct{}

// Run runs the script as redis.Script.Run does: the flagged form unless c's
// server refused a shebang before; on the first refusal it marks c and runs
// the plain form.
func (s *script) Run(ctx context.Context, c redis.Scripter, keys []string, args ...any) *redis.Cmd {
	if _, plain := plainClients.Load(c); plain {
		return s.plain.Run(ctx, c, keys, args...)
	}
	cmd := s.flagged.Run(ctx, c, keys, args...)
	if shebangRefused(cmd.Err()) {
		plainClients.Store(c, struct{}{})
		return s.plain.Run(ctx, c, keys, args...)
	}
	return cmd
}

// shebangRefused tells a server that cannot read the shebang: Redis 6 and
// older fail to compile the '#' line ("Error compiling script ... unexpected
// symbol near '#'"), a server that knows shebangs but not the flag says so
// ("Unexpected flag in script shebang").
func shebangRefused(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "Error compiling script") || strings.Contains(msg, "shebang")
}
