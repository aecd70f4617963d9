package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testutil"
	"github.com/pumpd/pump/storage"
)

func TestRedisOptionsMapIamsKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.Redis
		want storage.Options
	}{
		{
			name: "host and port are the one server",
			cfg:  config.Redis{Host: "10.0.0.7", Port: 6380, Database: 3, Timeout: 2},
			want: storage.Options{Addrs: []string{"10.0.0.7:6380"}, DB: 3, Timeout: 2 * time.Second},
		},
		{
			name: "addrs win over host and port",
			cfg:  config.Redis{Host: "10.0.0.7", Port: 6380, Addrs: config.StringList{"a:1", "b:2"}, EnableCluster: true},
			want: storage.Options{Addrs: []string{"a:1", "b:2"}, Cluster: true},
		},
		{
			name: "sentinel with an ACL user",
			cfg:  config.Redis{Addrs: config.StringList{"s:26379"}, MasterName: "mymaster", Username: "u", Password: "p"},
			want: storage.Options{Addrs: []string{"s:26379"}, MasterName: "mymaster", Username: "u", Password: "p"},
		},
		{
			name: "iam's production pool values",
			cfg:  config.Redis{Host: "h", Port: 1, OptimisationMaxIdle: 2000, OptimisationMaxActive: 4000},
			want: storage.Options{Addrs: []string{"h:1"}, MaxIdleConns: 2000, MaxActiveConns: 4000},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := redisOptions(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRedisOptionsTLS(t *testing.T) {
	files := testutil.WriteTLSFiles(t)
	got, err := redisOptions(config.Redis{Host: "h", Port: 1, UseSSL: true, SSLCAFile: files.CA})
	if err != nil {
		t.Fatal(err)
	}
	if got.TLS == nil || got.TLS.RootCAs == nil || got.TLS.InsecureSkipVerify {
		t.Fatalf("TLS %+v, want the CA of ssl-ca-file and verification on", got.TLS)
	}
	got, err = redisOptions(config.Redis{Host: "h", Port: 1, UseSSL: true, SSLInsecureSkipVerify: true})
	if err != nil || got.TLS == nil || !got.TLS.InsecureSkipVerify || got.TLS.RootCAs != nil {
		t.Fatalf("TLS %+v %v, want skip-verify and the system's CAs", got.TLS, err)
	}
	if got, _ := redisOptions(config.Redis{Host: "h", Port: 1, SSLCAFile: files.CA}); got.TLS != nil {
		t.Fatal("TLS set up without use-ssl")
	}

	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"missing", "/nonexistent/ca.pem", []string{"redis.ssl-ca-file: ", "/nonexistent/ca.pem"}},
		{"not PEM", testutil.WriteFile(t, "ca.pem", "not a certificate"), []string{"redis.ssl-ca-file: ", "holds no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redisOptions(config.Redis{Host: "h", Port: 1, UseSSL: true, SSLCAFile: tc.file})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q, want %q in it", err, w)
				}
			}
		})
	}
}
