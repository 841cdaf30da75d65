package assembly_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/meshgate/meshgate/internal/testgrpc"
)

// copyShopProtos copies the shop schema's sources into a temporary import
// path the test may break.
func copyShopProtos(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"shop/v1/shop.proto", "shop/v1/types.proto"} {
		b, err := os.ReadFile(filepath.Join(protoDir(t), f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A schema whose source breaks is refused with the file and line; the
// snapshot in force keeps serving, and explicit routes win over the
// generated ones with the same method and path.
func TestBrokenSchemaReloadKeepsServing(t *testing.T) {
	lib := testgrpc.Start(t)
	dir := copyShopProtos(t)
	gw := startYAML(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
demo: {listen: "127.0.0.1:0"}
schemas:
  - {name: shop, protos: {import_paths: ["%s"], files: [shop/v1/shop.proto]}}
clusters:
  - {name: lib, protocol: grpc, endpoints: ["%s"]}
  - {name: demo, endpoints: [demo]}
transcoding:
  - {schema: shop, target: {cluster: lib}}
routes:
  # The same method and path as ListBooks' binding: this route wins.
  - {method: GET, path: "/v1/{parent=shelves/*}/books", target: {cluster: demo, service: meshgate.demo.EchoService, method: echo},
     args: [{name: parent, from: path, type: string}]}
`, dir, lib.Addr()))
	base := "http://" + gw.HTTPAddr().String()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()

	if r := do(t, c, "GET", base+"/v1/shelves/1/books", ""); r.status != 200 || r.body != `"shelves/1"` {
		t.Fatalf("explicit route: %d %s", r.status, r.body)
	}
	get := func() {
		t.Helper()
		if r := do(t, c, "GET", base+"/v1/shelves/1/books/2", ""); r.status != 200 || !strings.Contains(r.body, `"title":"Title of shelves/1/books/2"`) {
			t.Fatalf("generated route: %d %s", r.status, r.body)
		}
	}
	get()

	before := gw.Schema("shop").Current().Version
	broken := "syntax = \"proto3\";\npackage shop.v1;\nmessage Broken {\n  NoSuchType x = 1;\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "shop/v1/shop.proto"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	err := gw.ReloadSchema("shop")
	if err == nil || !strings.Contains(err.Error(), "shop/v1/shop.proto:4:") {
		t.Fatalf("reload of a broken schema: %v", err)
	}
	if v := gw.Schema("shop").Current().Version; v != before {
		t.Fatalf("version moved from %d to %d", before, v)
	}
	get()
	if err := gw.ReloadSchema("nope"); err == nil {
		t.Fatal("unknown schema reloaded")
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meshgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// The gRPC ingress serves TLS from the configured certificate, and a
// gRPC cluster dials its upstream with TLS verified against a CA file.
func TestGRPCTLSBothSides(t *testing.T) {
	lib := testgrpc.Start(t, testgrpc.WithTLS())
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, pemCerts(t, lib), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := writeCert(t)
	gw := startYAML(t, fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
grpc: {listen: "127.0.0.1:0", tls: {cert_file: "%s", key_file: "%s"}}
schemas:
  - {name: shop, protos: {import_paths: ["%s"], files: [shop/v1/shop.proto]}}
clusters:
  - {name: lib, protocol: grpc, endpoints: ["%s"], tls: {ca_file: "%s"}}
grpc_routes:
  - {service: shop.v1.Library, schema: shop, target: {cluster: lib}}
`, certFile, keyFile, protoDir(t), lib.Addr(), caFile))
	conn, err := grpc.NewClient(gw.GRPCAddr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := &matrix{schema: shopSchema(t)}
	r := m.callBook(context.Background(), conn, "GetBook", "shelves/1/books/2")
	if r.err != nil || str(r.out, "title") != "Title of shelves/1/books/2" {
		t.Fatalf("over TLS: %v %v", r.out, r.err)
	}
}

// pemCerts returns the PEM of the test server's certificate, which its
// ClientTLS configuration trusts.
func pemCerts(t *testing.T, srv *testgrpc.Server) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", srv.Addr(), srv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []byte
	for _, c := range conn.ConnectionState().PeerCertificates {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
