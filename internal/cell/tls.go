package cell

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// certValidity is the lifetime of the self-signed certificate. Clients pin
// it by fingerprint rather than trusting a CA, so a short lifetime would
// only break them.
const certValidity = 10 * 365 * 24 * time.Hour

// TLSConfig returns the server's TLS configuration with the certificate in
// dir/tls, creating a self-signed one on first start, and the SHA-256
// fingerprint of the certificate to print for clients to pin.
func TLSConfig(dir string) (*tls.Config, string, error) {
	tdir := filepath.Join(dir, TLSDir)
	certFile, keyFile := filepath.Join(tdir, "cert.pem"), filepath.Join(tdir, "key.pem")
	if _, err := os.Stat(certFile); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(tdir, 0o700); err != nil {
			return nil, "", fmt.Errorf("cell: tls: %w", err)
		}
		// A key without its certificate is the remains of an interrupted
		// first start; it was never used.
		_ = os.Remove(keyFile)
		if err := createSelfSigned(certFile, keyFile, time.Now()); err != nil {
			return nil, "", err
		}
	}
	return LoadTLS(certFile, keyFile)
}

// LoadTLS returns the TLS configuration for a certificate and key given on
// the command line, and the certificate's fingerprint.
func LoadTLS(certFile, keyFile string) (*tls.Config, string, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("cell: tls: %w", err)
	}
	cfg := &tls.Config{
		// TAXII 2.1 §1.6.6: TLS 1.2 or later. crypto/tls never accepts
		// TLS 1.3 early data (0-RTT), which TAXII forbids because it can
		// be replayed.
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	return cfg, Fingerprint(cert.Certificate[0]), nil
}

// Fingerprint is the SHA-256 of a DER certificate as colon-separated
// upper-case hex, the form openssl x509 -fingerprint -sha256 prints.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// createSelfSigned writes a self-signed ECDSA P-256 certificate (the key
// type every TLS client supports) for the loopback addresses and this
// host's name.
func createSelfSigned(certFile, keyFile string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("cell: tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("cell: tls serial: %w", err)
	}
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "jointcell " + names[len(names)-1], Organization: []string{"jointcell"}},
		NotBefore:    now.Add(-time.Hour), // tolerate clients whose clocks run a little late
		NotAfter:     now.Add(certValidity),
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// A self-signed certificate given to a client as its trust anchor
		// (curl --cacert, Python's cafile) must be a CA for OpenSSL to
		// accept it, as openssl req -x509 makes it.
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("cell: tls certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("cell: tls key: %w", err)
	}
	// The key first: a certificate without its key would be loaded and fail.
	if err := writeExclusive(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("cell: write tls key: %w", err)
	}
	if err := writeExclusive(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("cell: write tls certificate: %w", err)
	}
	return nil
}

// PinnedClientConfig is a client TLS configuration that trusts exactly the
// certificate with the given SHA-256 fingerprint (as Fingerprint prints it;
// case and colons do not matter), the way to reach a cell whose
// certificate is self-signed without turning verification off.
func PinnedClientConfig(fingerprint string) *tls.Config {
	want := normaliseFingerprint(fingerprint)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Chain and name verification are replaced by the pin below,
		// which is stricter: one certificate, whatever the name.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("cell: server sent no certificate")
			}
			if got := normaliseFingerprint(Fingerprint(raw[0])); got != want {
				return fmt.Errorf("cell: server certificate fingerprint %s does not match the pinned %s", Fingerprint(raw[0]), fingerprint)
			}
			return nil
		},
	}
}

func normaliseFingerprint(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, ":", ""))
}
