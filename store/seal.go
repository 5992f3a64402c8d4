package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sealing keeps credentials the daemon must be able to read back (provider
// and account passwords, which a gateway sends to the far end) encrypted at
// rest with AES-256-GCM. A sealed value is "v1:" + base64(nonce ‖ ciphertext
// ‖ tag). The version names the key: a later key rotation adds "v2:" with a
// new key and unseals both while it re-seals the old values. The additional
// data binds a value to its column and tenant, so a sealed value copied to
// another column or tenant does not open.

// SealKeySize is the size of the sealing key: AES-256.
const SealKeySize = 32

const sealPrefixV1 = "v1:"

// ErrNoSealKey is returned when a secret must be sealed or unsealed but the
// store was opened without a key (see WithSealKey).
var ErrNoSealKey = errors.New("store: no seal key configured")

// ErrSealBroken is returned when a sealed value does not open: tampered
// with, truncated, moved to another row kind, or sealed with another key.
var ErrSealBroken = errors.New("store: sealed value does not open (tampered with or another key)")

// sealer seals and unseals secrets with one key.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("store: seal key must be %d bytes, got %d", SealKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("store: seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("store: seal key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts plain for the place named by aad. An empty secret is stored
// as "" so "no password" stays distinguishable without unsealing.
func (s *sealer) seal(plain, aad string) (string, error) {
	if plain == "" {
		return "", nil
	}
	if s == nil {
		return "", ErrNoSealKey
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("store: seal: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(aad))
	return sealPrefixV1 + base64.RawStdEncoding.EncodeToString(out), nil
}

// unseal opens a value sealed for the place named by aad.
func (s *sealer) unseal(sealed, aad string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	if s == nil {
		return "", ErrNoSealKey
	}
	body, ok := strings.CutPrefix(sealed, sealPrefixV1)
	if !ok {
		return "", fmt.Errorf("%w: unknown seal version", ErrSealBroken)
	}
	raw, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", ErrSealBroken
	}
	ns := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], []byte(aad))
	if err != nil {
		return "", ErrSealBroken
	}
	return string(plain), nil
}

// sealAAD names where a sealed value lives: table.column and tenant.
func sealAAD(column, tenantID string) string { return column + "|" + tenantID }

// Option configures Open.
type Option func(*DB) error

// WithSealKey gives the store the 32-byte key that seals credentials at
// rest. Without it the store works, but refuses to write or read a secret.
func WithSealKey(key []byte) Option {
	return func(db *DB) error {
		s, err := newSealer(key)
		if err != nil {
			return err
		}
		db.seal = s
		return nil
	}
}
