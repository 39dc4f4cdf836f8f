package sealer

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// MinSecretLen is the shortest SECRET_KEY New accepts.
const MinSecretLen = 16

// version is the first byte of every sealed value.
const version byte = 1

// ErrOpen is returned by Open for a value that is not sealed by any of
// the Sealer's keys, or was modified.
var ErrOpen = errors.New("sealer: cannot open sealed value (wrong key or tampered)")

type key struct {
	id   [4]byte
	aead cipher.AEAD
	sign ed25519.PrivateKey
	kid  string // RFC 7638 thumbprint of the public signing key
}

// Sealer seals and opens secrets and signs assertions. It is safe for
// concurrent use.
type Sealer struct {
	keys []key // keys[0] seals and signs; all open and verify
}

// New derives the keys from secret (the current SECRET_KEY) and the
// optional previous secrets, which are only used to open old values and
// are published in the JWKS until removed. Each secret must be at least
// MinSecretLen bytes.
func New(secret string, previous ...string) (*Sealer, error) {
	s := &Sealer{}
	for i, sec := range append([]string{secret}, previous...) {
		if sec == "" && i > 0 {
			continue
		}
		if len(sec) < MinSecretLen {
			return nil, fmt.Errorf("sealer: secret key must be at least %d bytes", MinSecretLen)
		}
		k, err := derive(sec)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

func derive(secret string) (key, error) {
	var k key
	enc, err := hkdf.Key(sha256.New, []byte(secret), nil, "whitelabel/seal/aes-256-gcm/v1", 32)
	if err != nil {
		return k, fmt.Errorf("sealer: derive key: %w", err)
	}
	id, err := hkdf.Key(sha256.New, []byte(secret), nil, "whitelabel/seal/key-id/v1", 4)
	if err != nil {
		return k, fmt.Errorf("sealer: derive key id: %w", err)
	}
	seed, err := hkdf.Key(sha256.New, []byte(secret), nil, "whitelabel/edge-assertion/ed25519/v1", ed25519.SeedSize)
	if err != nil {
		return k, fmt.Errorf("sealer: derive signing key: %w", err)
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return k, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return k, err
	}
	copy(k.id[:], id)
	k.sign = ed25519.NewKeyFromSeed(seed)
	jwk := jose.JSONWebKey{Key: k.sign.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return k, fmt.Errorf("sealer: thumbprint: %w", err)
	}
	k.kid = b64(tp)
	return k, nil
}

// Seal encrypts plaintext bound to ad (associated data that must be given
// again to Open, e.g. "sso:12:oidc", so a sealed value cannot be moved to
// another record). The result is version ‖ key id ‖ nonce ‖ ciphertext.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	k := s.keys[0]
	out := make([]byte, 0, 1+4+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	out = append(out, version)
	out = append(out, k.id[:]...)
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, ad), nil
}

// Open decrypts a value sealed by Seal with any of the Sealer's keys and
// the same ad. It returns ErrOpen when no key opens it.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 5 || sealed[0] != version {
		return nil, ErrOpen
	}
	for _, k := range s.keys {
		if !bytes.Equal(k.id[:], sealed[1:5]) {
			continue
		}
		rest := sealed[5:]
		if len(rest) < k.aead.NonceSize() {
			return nil, ErrOpen
		}
		pt, err := k.aead.Open(nil, rest[:k.aead.NonceSize()], rest[k.aead.NonceSize():], ad)
		if err != nil {
			return nil, ErrOpen
		}
		return pt, nil
	}
	return nil, ErrOpen
}

// KeyID returns the kid of the current signing key.
func (s *Sealer) KeyID() string { return s.keys[0].kid }

// JWKS returns the JSON Web Key Set of every signing key's public half
// (current first), for verifying X-Edge-Assertion.
func (s *Sealer) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range s.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.sign.Public(), KeyID: k.kid, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return set
}

// Assertion is the claim set of an X-Edge-Assertion.
type Assertion struct {
	jwt.Claims
	Tenant    int64    `json:"tenant"`
	TenantKey string   `json:"tenant_key,omitempty"`
	Email     string   `json:"email,omitempty"`
	Name      string   `json:"name,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	Provider  string   `json:"idp,omitempty"`
}

// SignAssertion signs a as a compact JWT (EdDSA, typ JWT, kid set) with
// the current key, setting iat, nbf and exp = now+ttl.
func (s *Sealer) SignAssertion(a Assertion, now time.Time, ttl time.Duration) (string, error) {
	k := s.keys[0]
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.sign},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.kid))
	if err != nil {
		return "", fmt.Errorf("sealer: signer: %w", err)
	}
	a.IssuedAt = jwt.NewNumericDate(now)
	a.NotBefore = jwt.NewNumericDate(now.Add(-5 * time.Second))
	a.Expiry = jwt.NewNumericDate(now.Add(ttl))
	return jwt.Signed(signer).Claims(a).Serialize()
}

// VerifyAssertion checks token against the key set (as published by
// control), the expected issuer and audience and the time now, and
// returns its claims. It is what an upstream does, in Go.
func VerifyAssertion(set jose.JSONWebKeySet, token, issuer, audience string, now time.Time) (*Assertion, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("parse assertion: %w", err)
	}
	if len(tok.Headers) != 1 {
		return nil, errors.New("assertion must have one signature")
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) == 0 {
		return nil, fmt.Errorf("assertion key %q is not in the key set", tok.Headers[0].KeyID)
	}
	var a Assertion
	if err := tok.Claims(keys[0].Key, &a); err != nil {
		return nil, fmt.Errorf("verify assertion: %w", err)
	}
	if err := a.Claims.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{audience}, Time: now}, 0); err != nil {
		return nil, fmt.Errorf("verify assertion: %w", err)
	}
	return &a, nil
}

// MarshalJWKS returns the key set as JSON.
func (s *Sealer) MarshalJWKS() []byte {
	b, _ := json.Marshal(s.JWKS())
	return b
}
