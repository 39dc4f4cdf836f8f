package sealer

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func TestSealRotation(t *testing.T) {
	old, err := New("old-secret-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal([]byte("client-secret"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("client-secret")) || sealed[0] != version {
		t.Fatalf("sealed = %x", sealed)
	}
	rotated, err := New("new-secret-key-0123456789", "old-secret-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := rotated.Open(sealed, []byte("ad")); err != nil || string(pt) != "client-secret" {
		t.Errorf("rotated Open = %q, %v", pt, err)
	}
	fresh, _ := New("new-secret-key-0123456789")
	for name, tc := range map[string]struct {
		s      *Sealer
		sealed []byte
		ad     string
	}{
		"unknown key": {fresh, sealed, "ad"},
		"wrong ad":    {rotated, sealed, "other"},
		"tampered":    {rotated, append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), "ad"},
		"short":       {rotated, sealed[:3], "ad"},
	} {
		if _, err := tc.s.Open(tc.sealed, []byte(tc.ad)); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open = %v, want ErrOpen", name, err)
		}
	}
	if _, err := New("short"); err == nil {
		t.Error("New(short secret) = nil error")
	}
	if n := len(rotated.JWKS().Keys); n != 2 {
		t.Errorf("rotated JWKS has %d keys, want 2", n)
	}
}

func TestSSOSecretsBoundToRow(t *testing.T) {
	s, _ := New("secret-key-0123456789abc")
	c := &whitelabel.SSOConfig{TenantID: 1, Provider: "oidc"}
	if err := s.SealSSOSecrets(c, whitelabel.SSOSecrets{ClientSecret: "x"}); err != nil {
		t.Fatal(err)
	}
	if sec, err := s.OpenSSOSecrets(c); err != nil || sec.ClientSecret != "x" {
		t.Errorf("OpenSSOSecrets = %+v, %v", sec, err)
	}
	moved := &whitelabel.SSOConfig{TenantID: 2, Provider: "oidc", SealedSecrets: c.SealedSecrets}
	if _, err := s.OpenSSOSecrets(moved); !errors.Is(err, ErrOpen) {
		t.Errorf("secrets moved to another tenant open: %v", err)
	}
}

func TestAssertion(t *testing.T) {
	s, _ := New("secret-key-0123456789abc")
	now := time.Now()
	a := Assertion{Tenant: 7, Email: "a@b.c"}
	a.Issuer, a.Audience, a.Subject = "iss", []string{"aud"}, "u1"
	tok, err := s.SignAssertion(a, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyAssertion(s.JWKS(), tok, "iss", "aud", now)
	if err != nil || got.Subject != "u1" || got.Tenant != 7 {
		t.Fatalf("VerifyAssertion = %+v, %v", got, err)
	}
	if _, err := VerifyAssertion(s.JWKS(), tok, "iss", "other-aud", now); err == nil {
		t.Error("assertion verified for another audience")
	}
	if _, err := VerifyAssertion(s.JWKS(), tok, "iss", "aud", now.Add(2*time.Minute)); err == nil {
		t.Error("expired assertion verified")
	}
	other, _ := New("another-key-0123456789abc")
	if _, err := VerifyAssertion(other.JWKS(), tok, "", "", now); err == nil {
		t.Error("assertion verified with another key set")
	}
}
