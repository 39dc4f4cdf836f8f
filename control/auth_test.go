package control

import (
	"strings"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func TestAuth(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("keyed")
		gone := e.createPartner("gone")
		e.must(200, "POST", BasePath+"/partners/"+itoa(gone.id)+"/deactivate", admin, nil)
		wellFormedUnknown, _ := whitelabel.NewAPIKey(p.id, time.Now())
		// Right id, wrong secret: change the last character to another
		// one of the key alphabet (a fixed replacement would be the
		// right key for one key in 62).
		last := p.key[len(p.key)-1]
		repl := "A"
		if last == 'A' {
			repl = "B"
		}
		wrongSecret := p.key[:len(p.key)-1] + repl
		if wrongSecret == p.key {
			t.Fatal("wrong secret equals the key")
		}
		if _, ok := whitelabel.ParseAPIKeyID(wrongSecret); !ok {
			t.Fatalf("wrong secret %q is not well formed", wrongSecret)
		}

		tests := []struct {
			name string
			path string
			a    auth
			want int
		}{
			{"no credentials", "/tenants", noAuth, 401},
			{"unknown key", "/tenants", apiKey(wellFormedUnknown), 401},
			{"wrong secret", "/tenants", apiKey(wrongSecret), 401},
			{"malformed key", "/tenants", apiKey("not-a-key"), 401},
			{"malformed key right prefix", "/tenants", apiKey(whitelabel.APIKeyPrefix + "short"), 401},
			{"deactivated partner", "/tenants", apiKey(gone.key), 401},
			{"wrong admin token", "/tenants", auth{headerAdminToken: "nope"}, 401},
			{"wrong admin token beats good key", "/tenants", auth{headerAdminToken: "nope", headerAPIKey: p.key}, 401},
			{"good key", "/tenants", apiKey(p.key), 200},
			{"admin", "/tenants", admin, 200},
			{"partner on admin route", "/partners", apiKey(p.key), 403},
			{"admin on partner route", "/partners/me", admin, 403},
			{"partner me", "/partners/me", apiKey(p.key), 200},
			{"public openapi", "/openapi.json", noAuth, 200},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("GET", BasePath+tc.path, tc.a, nil)
				if r.status != tc.want {
					t.Fatalf("GET %s = %d, want %d\n%s", tc.path, r.status, tc.want, r.body)
				}
				if tc.want >= 400 {
					code, _ := r.errCode(t)
					if want := map[int]string{401: "unauthorized", 403: "forbidden"}[tc.want]; code != want {
						t.Errorf("code = %s, want %s", code, want)
					}
					if strings.Contains(string(r.body), p.key) {
						t.Error("error body echoes the key")
					}
				}
			})
		}
	})
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st, func(c *Config) { c.AdminToken = "" })
		for _, tok := range []string{"", " ", "x"} {
			r := e.do("GET", BasePath+"/partners", auth{headerAdminToken: tok}, nil)
			if r.status != 401 {
				t.Errorf("admin token %q with admin disabled = %d, want 401", tok, r.status)
			}
		}
	})
}

func TestKeyRotationGrace(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st, func(c *Config) { c.KeyGracePeriod = 24 * time.Hour })
		p := e.createPartner("rotor")
		old := p.key
		m := e.must(200, "POST", BasePath+"/partners/"+itoa(p.id)+"/rotate-key", admin, nil).obj(t)
		newKey := m["api_key"].(string)
		if newKey == old || !strings.HasPrefix(newKey, whitelabel.APIKeyPrefix) {
			t.Fatalf("new key %q", newKey)
		}
		exp, err := time.Parse(time.RFC3339Nano, m["old_keys_expire_at"].(string))
		if err != nil {
			t.Fatalf("old_keys_expire_at: %v", err)
		}
		if d := exp.Sub(e.clock.Now()); d < 23*time.Hour || d > 25*time.Hour {
			t.Errorf("old keys expire in %v, want about 24h", d)
		}

		e.must(200, "GET", BasePath+"/partners/me", apiKey(old), nil)
		e.must(200, "GET", BasePath+"/partners/me", apiKey(newKey), nil)

		e.clock.Advance(23 * time.Hour)
		e.must(200, "GET", BasePath+"/tenants", apiKey(old), nil)

		e.clock.Advance(2 * time.Hour)
		e.must(401, "GET", BasePath+"/tenants", apiKey(old), nil)
		me := e.must(200, "GET", BasePath+"/partners/me", apiKey(newKey), nil).obj(t)
		if keys := me["api_keys"].([]any); len(keys) != 2 {
			t.Errorf("partner has %d keys listed, want 2", len(keys))
		}
		if strings.Contains(string(e.must(200, "GET", BasePath+"/partners/"+itoa(p.id), admin, nil).body), newKey) {
			t.Error("GET partner shows the plaintext key")
		}
	})
}
