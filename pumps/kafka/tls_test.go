package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pumpd/pump/pumps"
)

// selfSigned makes a certificate for 127.0.0.1 and writes it and its key
// as PEM files.
func selfSigned(t *testing.T, name string) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

func TestWriteOverMutualTLS(t *testing.T) {
	serverCert, _, _ := selfSigned(t, "broker")
	_, clientCertFile, clientKeyFile := selfSigned(t, "pump")
	c := startKafka(t, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAnyClientCert,
	}))
	k := newSink(t, pumps.Meta{
		"broker": brokerList(c), "topic": topic,
		"use_ssl": true, "ssl_insecure_skip_verify": true,
		"ssl_cert_file": clientCertFile, "ssl_key_file": clientKeyFile,
	})
	if err := k.Write(context.Background(), testutil.Records(t, 0, 5)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	consume(t, c.ListenAddrs(), 5, kgo.DialTLSConfig(&tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // a test's self-signed broker
		Certificates:       []tls.Certificate{serverCert},
	}))

	t.Run("a broker certificate nobody signed is refused without skip-verify", func(t *testing.T) {
		strict := New()
		if err := strict.Configure(pumps.Meta{
			"broker": brokerList(c), "topic": topic, "timeout": "2s", "use_ssl": true,
			"ssl_cert_file": clientCertFile, "ssl_key_file": clientKeyFile,
		}); err != nil {
			t.Fatal(err)
		}
		err := strict.Init(context.Background())
		if err == nil {
			_ = strict.Close(context.Background())
			t.Fatal("Init trusted a self-signed broker")
		}
		if pumps.IsPermanent(err) {
			t.Errorf("got permanent: %v", err)
		}
	})
	t.Run("a missing key file is permanent", func(t *testing.T) {
		k := New()
		if err := k.Configure(pumps.Meta{
			"broker": brokerList(c), "topic": topic, "use_ssl": true,
			"ssl_cert_file": clientCertFile, "ssl_key_file": clientKeyFile + ".missing",
		}); err != nil {
			t.Fatal(err)
		}
		err := k.Init(context.Background())
		if !pumps.IsPermanent(err) || !strings.Contains(err.Error(), "load client certificate") {
			t.Errorf("Init = %v, want a permanent certificate error", err)
		}
	})
}
