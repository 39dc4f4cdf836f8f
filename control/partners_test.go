package control

import (
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestPartners(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		r := e.must(201, "POST", BasePath+"/partners", admin, `{"name":"Initial Partner","contact_email":"partner@example.com","default_revenue_share":12.5}`)
		m := r.obj(t)
		id := idOf(m)
		key, _ := m["api_key"].(string)
		if _, ok := whitelabel.ParseAPIKeyID(key); !ok {
			t.Fatalf("api_key %q is not a key", key)
		}
		mustEqual(t, "Location", r.header.Get("Location"), BasePath+"/partners/"+itoa(id))
		mustEqual(t, "default_revenue_share", m["default_revenue_share"], any(12.5))
		mustEqual(t, "is_active", m["is_active"], any(true))

		g := e.must(200, "GET", BasePath+"/partners/"+itoa(id), admin, nil)
		if strings.Contains(string(g.body), key) || strings.Contains(string(g.body), `"api_key"`) {
			t.Errorf("GET partner shows the key: %s", g.body)
		}
		l := e.must(200, "GET", BasePath+"/partners", admin, nil).obj(t)["partners"].([]any)
		if len(l) != 1 {
			t.Errorf("%d partners listed, want 1", len(l))
		}
		me := e.must(200, "GET", BasePath+"/partners/me", apiKey(key), nil).obj(t)
		mustEqual(t, "me.id", idOf(me), id)

		d := e.must(200, "POST", BasePath+"/partners/"+itoa(id)+"/deactivate", admin, nil).obj(t)
		mustEqual(t, "deactivated is_active", d["is_active"], any(false))
		e.must(401, "GET", BasePath+"/partners/me", apiKey(key), nil)
		e.must(200, "POST", BasePath+"/partners/"+itoa(id)+"/deactivate", admin, nil) // idempotent
		a := e.must(200, "POST", BasePath+"/partners/"+itoa(id)+"/activate", admin, nil).obj(t)
		mustEqual(t, "activated is_active", a["is_active"], any(true))
		e.must(200, "GET", BasePath+"/partners/me", apiKey(key), nil)

		e.must(404, "GET", BasePath+"/partners/99999", admin, nil)
		e.must(404, "POST", BasePath+"/partners/99999/rotate-key", admin, nil)
		e.must(404, "GET", BasePath+"/partners/x", admin, nil)

		for _, tc := range []struct{ name, body, field string }{
			{"missing name", `{"contact_email":"a@b.co"}`, "name"},
			{"bad email", `{"name":"P","contact_email":"nope"}`, "contact_email"},
			{"share over 100", `{"name":"P","contact_email":"a@b.co","default_revenue_share":101}`, "default_revenue_share"},
			{"share negative", `{"name":"P","contact_email":"a@b.co","default_revenue_share":-1}`, "default_revenue_share"},
			{"share string", `{"name":"P","contact_email":"a@b.co","default_revenue_share":"10"}`, "default_revenue_share"},
			{"unknown field", `{"name":"P","contact_email":"a@b.co","api_key":"x"}`, "api_key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.must(400, "POST", BasePath+"/partners", admin, tc.body)
				if _, field := r.errCode(t); field != tc.field {
					t.Errorf("field = %q, want %q", field, tc.field)
				}
			})
		}
	})
}
