package federation

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Peer tokens are stored sealed (AES-256-GCM) under a key derived from the
// cell's private key (DIR/cell.key, mode 0600), so that a copy of the
// database alone, such as a backup, does not reveal the credentials the
// cell uses on its peers.
func tokenKey(cellKey ed25519.PrivateKey) []byte {
	h := sha256.New()
	h.Write([]byte("jointcell federation peer token v1\x00"))
	h.Write(cellKey.Seed())
	return h.Sum(nil)
}

// SealToken encrypts a peer's token for storage.
func SealToken(cellKey ed25519.PrivateKey, token string) ([]byte, error) {
	block, err := aes.NewCipher(tokenKey(cellKey))
	if err != nil {
		return nil, fmt.Errorf("federation: seal token: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("federation: seal token: %w", err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return aead.Seal(nonce, nonce, []byte(token), nil), nil
}

// OpenToken decrypts a token sealed by SealToken with the same cell key.
func OpenToken(cellKey ed25519.PrivateKey, sealed []byte) (string, error) {
	block, err := aes.NewCipher(tokenKey(cellKey))
	if err != nil {
		return "", fmt.Errorf("federation: open token: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", fmt.Errorf("federation: open token: %w", err)
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("federation: open token: sealed token too short")
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("federation: open token: not sealed with this cell's key: %w", err)
	}
	return string(pt), nil
}
