package whitelabel

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"time"
)

// Partner is an organisation that resells the core app under its brands
// and manages its tenants through the API.
type Partner struct {
	ID                  int64     `json:"id"`
	Name                string    `json:"name"`
	ContactEmail        string    `json:"contact_email"`
	DefaultRevenueShare float64   `json:"default_revenue_share"` // percent, 0–100
	IsActive            bool      `json:"is_active"`
	CreatedAt           time.Time `json:"created_at"`
}

// APIKeyPrefix starts every partner API key, so leaked keys are easy to
// recognise (and to scan for).
const APIKeyPrefix = "wl_live_"

const (
	apiKeyIDLen     = 12
	apiKeySecretLen = 40
	apiKeyAlphabet  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// APIKey is the stored form of a partner API key: a public id (the part
// after the prefix, shown in listings and logs) and the SHA-256 of the
// whole key. The plaintext is shown once, when the key is made.
type APIKey struct {
	ID        string     `json:"id"` // the 12 characters after "wl_live_"
	PartnerID int64      `json:"partner_id"`
	Hash      []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // nil: no expiry
}

// NewAPIKey returns a new random key (plaintext, shown once) and its
// stored form for partnerID. Keys carry 40 base-62 characters of secret
// (about 238 bits).
func NewAPIKey(partnerID int64, now time.Time) (plaintext string, key APIKey) {
	id := randomString(apiKeyIDLen)
	plaintext = APIKeyPrefix + id + randomString(apiKeySecretLen)
	sum := sha256.Sum256([]byte(plaintext))
	return plaintext, APIKey{ID: id, PartnerID: partnerID, Hash: sum[:], CreatedAt: now}
}

// ParseAPIKeyID returns the public id of a plaintext key, or false if s
// does not have the shape of one of our keys.
func ParseAPIKeyID(s string) (string, bool) {
	if len(s) != len(APIKeyPrefix)+apiKeyIDLen+apiKeySecretLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return "", false
	}
	for i := len(APIKeyPrefix); i < len(s); i++ {
		if strings.IndexByte(apiKeyAlphabet, s[i]) < 0 {
			return "", false
		}
	}
	return s[len(APIKeyPrefix) : len(APIKeyPrefix)+apiKeyIDLen], true
}

// Matches reports, in constant time, whether plaintext is this key, and
// whether it is still valid at now.
func (k *APIKey) Matches(plaintext string, now time.Time) bool {
	sum := sha256.Sum256([]byte(plaintext))
	ok := subtle.ConstantTimeCompare(sum[:], k.Hash) == 1
	return ok && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// randomString returns n characters from apiKeyAlphabet, uniformly.
func randomString(n int) string {
	b := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		rand.Read(buf) // never fails (crypto/rand panics instead)
		// 62*4 = 248: reject 248..255 to avoid modulo bias.
		if buf[0] < 248 {
			b[i] = apiKeyAlphabet[int(buf[0])%62]
			i++
		}
	}
	return string(b)
}

// RandomToken returns a URL-safe random string of n base-62 characters,
// for verification tokens and similar secrets.
func RandomToken(n int) string { return randomString(n) }
