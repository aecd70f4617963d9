package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"
)

func TestTextMasksEverySecretByItsShape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text stays", "plain text stays"},
		{"redis.internal:6379", "redis.internal:6379"},
		{"user@example.com", "user@example.com"},
		{"http://localhost:9200", "http://localhost:9200"},
		{"mongodb://iam:secret@h1:1,h2:2/iam", "mongodb://iam:" + Mask + "@h1:1,h2:2/iam"},
		{"mongodb+srv://iam:p%40ss@cluster0.example.com/iam", "mongodb+srv://iam:" + Mask + "@cluster0.example.com/iam"},
		{"mongodb://h/?tlsCertificateKeyFilePassword=pw&w=1", "mongodb://h/?tlsCertificateKeyFilePassword=" + Mask + "&w=" + Mask},
		{"mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:tok", "mongodb://h/?authMechanismProperties=" + Mask},
		// A user-info without a password may be a token.
		{"https://ghp_0123456789@github.com/x", "https://" + Mask + "@github.com/x"},
		// Every password of a comma-separated list, not only the first.
		{"http://a:one@h1:9200,http://b:two@h2:9200, https://c:three@h3", "http://a:" + Mask + "@h1:9200,http://b:" + Mask + "@h2:9200, https://c:" + Mask + "@h3"},
		// Every query value, whatever its name; the names stay.
		{"https://c.example.com/in?token=abc&format=json&sig=x;apikey=k", "https://c.example.com/in?token=" + Mask + "&format=" + Mask + "&sig=" + Mask + ";apikey=" + Mask},
		{"https://h/x?SECRETVALUE", "https://h/x?" + Mask},
		{"https://h/x?empty=&a=1", "https://h/x?empty=&a=" + Mask},
		{"https://h/cb#access_token=abc", "https://h/cb#" + Mask},
		// Unescaped '/', '@' or '?' in a password still hide it all.
		{"postgres://u:pa/ss@h/db", "postgres://u:" + Mask + "@h/db"},
		{"postgres://u:p@ss@h/db", "postgres://u:" + Mask + "@h/db"},
		{"postgres://u:pa?ss@h/db", "postgres://u:pa?" + Mask},
		// DSNs and error texts.
		{"host=db user=u password=pgsecret dbname=x", "host=db user=u password=" + Mask + " dbname=x"},
		{"host=db password='a b\\' c' sslpassword=k2 dbname=x", "host=db password=" + Mask + " sslpassword=" + Mask + " dbname=x"},
		{`Post "https://u:pw@h/x?token=t0k": dial tcp: refused`, `Post "https://u:` + Mask + `@h/x?token=` + Mask + `": dial tcp: refused`},
	} {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q)\n got: %s\nwant: %s", tt.in, got, tt.want)
		}
		if got := Text(Text(tt.in)); got != tt.want {
			t.Errorf("Text is not idempotent on %q: %s", tt.in, got)
		}
	}
}

func TestTreeMasksHeadersSecretKeysAndShapes(t *testing.T) {
	tree := map[string]any{
		"redis": map[string]any{"host": "h", "password": "hunter2", "port": 6379},
		"pumps": map[string]any{
			"web": map[string]any{"meta": map[string]any{
				"url":            "https://c.example.com/in?token=qtok",
				"headers":        map[string]any{"Authorization": "Bearer abc", "X-Source": "iam-pump"},
				"auth_token_env": "COLLECTOR_TOKEN",
			}},
			"es": map[string]any{"meta": map[string]any{
				"elasticsearch_url": "http://a:pw1@h1,http://b:pw2@h2",
				"api_key":           "k",
				"auth_api_key":      12345,
				"password":          "",
			}},
			"k": map[string]any{"meta": map[string]any{"sasl_password": "kpw", "broker": []any{"k1:9092", "k2:9092"}}},
		},
		"server": map[string]any{"admin-auth": map[string]any{"token-env": "ADMIN_TOKEN", "token-file": "/run/t"},
			// Header names and switches are no secrets.
			"cors": map[string]any{"allowed-headers": []any{"Authorization", "X-Request-Id"}, "allow-credentials": true}},
		"extra": map[string]any{"headers": []any{"X-Token: listtoken"}},
	}
	Tree(tree)
	text := fmt.Sprint(tree)
	for _, secret := range []string{"hunter2", "qtok", "Bearer", "abc", "iam-pump", "pw1", "pw2", "api_key:k ", "12345", "kpw", "listtoken"} {
		if strings.Contains(text, secret) {
			t.Errorf("Tree left %q:\n%s", secret, text)
		}
	}
	for _, kept := range []string{"host:h", "port:6379", "auth_token_env:COLLECTOR_TOKEN", "token-env:ADMIN_TOKEN",
		"token-file:/run/t", "password:]", "Authorization:" + Mask, "k1:9092", "url:https://c.example.com/in?token=" + Mask,
		"allowed-headers:[Authorization X-Request-Id]", "allow-credentials:true", "headers:[X-Token: " + Mask + "]"} {
		if !strings.Contains(text, kept) {
			t.Errorf("Tree lost %q:\n%s", kept, text)
		}
	}
}

func TestSecretsScrubEveryFormAndKeepUnwrap(t *testing.T) {
	var s Secrets
	s.AddURLs("http://user:p@ss/w0rd@h1:9200, https://tok3nuser@h2/x?sig=s1gnature&n=1")
	s.AddHeader(http.Header{"X-Api-Key": {"key-12345"}})
	s.Add("sh", "") // too short to scrub from free text, and nothing
	cause := fmt.Errorf("open: %w", fs.ErrNotExist)
	err := s.Error(fmt.Errorf("driver said p@ss/w0rd, p%%40ss%%2Fw0rd, tok3nuser, s1gnature, key-12345 and sh: %w", cause))
	msg := err.Error()
	for _, secret := range []string{"p@ss/w0rd", "p%40ss%2Fw0rd", "tok3nuser", "s1gnature", "key-12345"} {
		if strings.Contains(msg, secret) {
			t.Errorf("Error kept %q: %s", secret, msg)
		}
	}
	if !strings.Contains(msg, " and sh: open") {
		t.Errorf("Error mangled the text around the secrets: %s", msg)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the redacted error does not unwrap to its cause: %v", err)
	}
	plain := errors.New("nothing secret here")
	if got := s.Error(plain); got != plain {
		t.Errorf("an error without secrets was wrapped: %#v", got)
	}
	if s.Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
	if got := Error(fmt.Errorf("get http://u:pw@h: %w", fs.ErrClosed)); strings.Contains(got.Error(), "pw") || !errors.Is(got, fs.ErrClosed) {
		t.Errorf("Error = %v (unwraps to the cause: %v)", got, errors.Is(got, fs.ErrClosed))
	}
}
