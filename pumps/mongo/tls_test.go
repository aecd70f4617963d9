package mongo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/pumpd/pump/internal/testing/testutil"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLS checks iam-pump's mongo_use_ssl and mongo_ssl_* keys against a
// FerretDB that serves TLS only, with certificates made here.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caFile := makeCA(t, dir)
	goodCert, goodKey := makeServerCert(t, dir, "good", ca, caKey, []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
	wrongCert, wrongKey := makeServerCert(t, dir, "wrong", ca, caKey, nil, []string{"mongo.example.com"})
	good := StartFerretDB(t, FerretOptions{TLSCert: goodCert, TLSKey: goodKey})
	wrong := StartFerretDB(t, FerretOptions{TLSCert: wrongCert, TLSKey: wrongKey})

	tests := []struct {
		name    string
		server  *FerretDB
		kv      []any
		wantErr string // "" when Init and Write must succeed
	}{
		{"CA file verifies the server", good,
			[]any{"mongo_ssl_ca_file", caFile}, ""},
		{"unknown authority is refused", good,
			nil, "certificate signed by unknown authority"},
		{"insecure skip verify trusts anything", good,
			[]any{"mongo_ssl_insecure_skip_verify", true}, ""},
		{"certificate for another name is refused", wrong,
			[]any{"mongo_ssl_ca_file", caFile}, "cannot validate certificate for 127.0.0.1"},
		{"allow invalid hostnames accepts another name", wrong,
			[]any{"mongo_ssl_ca_file", caFile, "mongo_ssl_allow_invalid_hostnames", true}, ""},
		{"allow invalid hostnames still checks the chain", wrong,
			[]any{"mongo_ssl_allow_invalid_hostnames", true}, "certificate signed by unknown authority"},
		{"missing CA file", good,
			[]any{"mongo_ssl_ca_file", filepath.Join(dir, "nope.pem")}, "mongo: mongo_ssl_ca_file: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A short server selection timeout: a refused handshake shows as
			// no server to select.
			url := tt.server.URL("iam") + "?serverSelectionTimeoutMS=1500"
			kv := append([]any{"mongo_use_ssl", true}, tt.kv...)
			m := New()
			if err := m.Configure(meta(url, "tls", kv...)); err != nil {
				t.Fatal(err)
			}
			m.Log = testLogger(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			defer m.Close(ctx)
			err := m.Init(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Init: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			if err := m.Write(ctx, testutil.Records(t, 0, 3)); err != nil {
				t.Fatalf("Write: %v", err)
			}
		})
	}
}

func makeCA(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pump test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", der)
}

func makeServerCert(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey,
	ips []net.IP, dns []string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der),
		writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", keyDER)
}

func writePEM(t *testing.T, path, typ string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
