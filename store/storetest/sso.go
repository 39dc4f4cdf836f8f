package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

// ssoOf returns s as an SSOStore, or fails the test: both stores must
// implement it.
func ssoOf(t *testing.T, s whitelabel.Store) whitelabel.SSOStore {
	t.Helper()
	ss, ok := s.(whitelabel.SSOStore)
	if !ok {
		t.Fatalf("%T does not implement whitelabel.SSOStore", s)
	}
	return ss
}

func testSSOConfigs(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	ss := ssoOf(t, s)
	p, _ := mustPartner(t, s, "ssop")
	tn := mustTenant(t, s, p.ID, "ssoa")
	other := mustTenant(t, s, p.ID, "ssob")

	v0 := version(t, s)
	c := &whitelabel.SSOConfig{
		TenantID: tn.ID, Provider: whitelabel.SSOOIDC, Name: "Corporate login",
		Settings:       whitelabel.SSOSettings{Issuer: "https://idp.example.com", ClientID: "cid", Scopes: []string{"openid", "email"}},
		SealedSecrets:  []byte{1, 2, 3, 0, 255},
		ProtectedPaths: []string{"/app"}, PublicPaths: []string{"/app/public"},
		AllowedEmailDomains: []string{"acme.com"}, AllowedGroups: []string{"staff"},
	}
	audit := &whitelabel.AuditEntry{Actor: "test", Action: "sso.put", TargetType: "sso"}
	if err := ss.PutSSOConfig(ctx, c, audit); err != nil {
		t.Fatalf("PutSSOConfig = %v", err)
	}
	if c.CreatedAt.IsZero() || !c.CreatedAt.Equal(c.UpdatedAt) {
		t.Errorf("after put CreatedAt %v UpdatedAt %v, want equal and set", c.CreatedAt, c.UpdatedAt)
	}
	if audit.ID == 0 || audit.TenantID != tn.ID || audit.TargetID != "oidc" {
		t.Errorf("audit = %+v, want ID, tenant %d and target oidc filled", audit, tn.ID)
	}
	if v := version(t, s); v != v0+1 {
		t.Errorf("version after put = %d, want %d", v, v0+1)
	}
	changes, err := s.ChangesSince(ctx, v0, 10)
	if err != nil || len(changes) != 1 || changes[0].Kind != whitelabel.ChangeSSO || changes[0].TenantID != tn.ID || changes[0].Key != "oidc" {
		t.Errorf("ChangesSince = %+v, %v; want one sso change for tenant %d keyed oidc", changes, err, tn.ID)
	}
	got, err := ss.GetSSOConfig(ctx, tn.ID, whitelabel.SSOOIDC)
	if err != nil {
		t.Fatalf("GetSSOConfig = %v", err)
	}
	if !same(got, c) {
		t.Errorf("GetSSOConfig = %s\nwant %s", js(got), js(c))
	}
	if !bytes.Equal(got.SealedSecrets, []byte{1, 2, 3, 0, 255}) {
		t.Errorf("sealed secrets = %v, want the bytes stored", got.SealedSecrets)
	}

	// Replace keeps CreatedAt; nil lists come back empty.
	time.Sleep(2 * time.Millisecond)
	r := &whitelabel.SSOConfig{TenantID: tn.ID, Provider: whitelabel.SSOOIDC, Name: "New", Settings: whitelabel.SSOSettings{Issuer: "https://idp2.example.com"}}
	if err := ss.PutSSOConfig(ctx, r, nil); err != nil {
		t.Fatalf("PutSSOConfig(replace) = %v", err)
	}
	if !r.CreatedAt.Equal(c.CreatedAt) || !r.UpdatedAt.After(c.UpdatedAt) {
		t.Errorf("replace: CreatedAt %v (want %v), UpdatedAt %v (want after %v)", r.CreatedAt, c.CreatedAt, r.UpdatedAt, c.UpdatedAt)
	}
	got, _ = ss.GetSSOConfig(ctx, tn.ID, whitelabel.SSOOIDC)
	if got.ProtectedPaths == nil || len(got.ProtectedPaths) != 0 || len(got.SealedSecrets) != 0 || got.Name != "New" {
		t.Errorf("after replace = %s", js(got))
	}

	saml := &whitelabel.SSOConfig{TenantID: tn.ID, Provider: whitelabel.SSOSAML, Name: "SAML", AllowIdPInitiated: true}
	if err := ss.PutSSOConfig(ctx, saml, nil); err != nil {
		t.Fatalf("PutSSOConfig(saml) = %v", err)
	}
	list, err := ss.ListSSOConfigs(ctx, tn.ID)
	if err != nil || len(list) != 2 || list[0].Provider != "oidc" || list[1].Provider != "saml" || !list[1].AllowIdPInitiated {
		t.Errorf("ListSSOConfigs = %s, %v; want oidc then saml", js(list), err)
	}
	if l, err := ss.ListSSOConfigs(ctx, other.ID); err != nil || l == nil || len(l) != 0 {
		t.Errorf("ListSSOConfigs(other) = %v, %v; want empty", l, err)
	}

	// LoadConfig and LoadTenantConfigs carry the configs.
	_, tcs, err := s.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tcs {
		switch tc.Tenant.ID {
		case tn.ID:
			if len(tc.SSO) != 2 || tc.SSO[0].Provider != "oidc" {
				t.Errorf("LoadConfig tenant %d SSO = %s", tn.ID, js(tc.SSO))
			}
		case other.ID:
			if len(tc.SSO) != 0 {
				t.Errorf("LoadConfig other SSO = %s, want none", js(tc.SSO))
			}
		}
	}
	tcs, err = s.LoadTenantConfigs(ctx, []int64{tn.ID})
	if err != nil || len(tcs) != 1 || len(tcs[0].SSO) != 2 {
		t.Errorf("LoadTenantConfigs = %s, %v", js(tcs), err)
	}

	v1 := version(t, s)
	if err := ss.DeleteSSOConfig(ctx, tn.ID, whitelabel.SSOSAML, nil); err != nil {
		t.Fatalf("DeleteSSOConfig = %v", err)
	}
	if v := version(t, s); v != v1+1 {
		t.Errorf("version after delete = %d, want %d", v, v1+1)
	}
	_, err = ss.GetSSOConfig(ctx, tn.ID, whitelabel.SSOSAML)
	checkCode(t, "GetSSOConfig(deleted)", err, whitelabel.CodeNotFound, "")
	err = ss.DeleteSSOConfig(ctx, tn.ID, whitelabel.SSOSAML, nil)
	checkCode(t, "DeleteSSOConfig(deleted)", err, whitelabel.CodeNotFound, "")
	err = ss.PutSSOConfig(ctx, &whitelabel.SSOConfig{TenantID: 999999, Provider: "oidc"}, nil)
	checkCode(t, "PutSSOConfig(no tenant)", err, whitelabel.CodeNotFound, "")
	if v := version(t, s); v != v1+1 {
		t.Errorf("failed mutations bumped the version to %d", v)
	}
}

func testSSOSessions(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	ss := ssoOf(t, s)
	now := time.Now().UTC().Truncate(time.Millisecond)
	v0 := version(t, s)
	sess := &whitelabel.SSOSession{ID: "h1", TenantID: 7, Host: "a.example.com", Provider: "oidc", Subject: "u1",
		Email: "u@acme.com", Groups: []string{"g"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := ss.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession = %v", err)
	}
	checkCode(t, "CreateSession(dup)", ss.CreateSession(ctx, sess), whitelabel.CodeConflict, "")
	got, err := ss.GetSession(ctx, "h1", now)
	if err != nil || !same(got, sess) {
		t.Errorf("GetSession = %s, %v; want %s", js(got), err, js(sess))
	}
	_, err = ss.GetSession(ctx, "h1", now.Add(2*time.Hour))
	checkCode(t, "GetSession(expired)", err, whitelabel.CodeNotFound, "")
	if err := ss.DeleteSession(ctx, "h1"); err != nil {
		t.Errorf("DeleteSession = %v", err)
	}
	_, err = ss.GetSession(ctx, "h1", now)
	checkCode(t, "GetSession(deleted)", err, whitelabel.CodeNotFound, "")
	if err := ss.DeleteSession(ctx, "h1"); err != nil {
		t.Errorf("DeleteSession(again) = %v, want nil", err)
	}
	for i, tid := range []int64{7, 7, 8} {
		x := *sess
		x.ID, x.TenantID = fmt.Sprint("s", i), tid
		if err := ss.CreateSession(ctx, &x); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.DeleteTenantSessions(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.GetSession(ctx, "s0", now); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("tenant 7 session survived DeleteTenantSessions: %v", err)
	}
	if _, err := ss.GetSession(ctx, "s2", now); err != nil {
		t.Errorf("tenant 8 session = %v, want kept", err)
	}
	n, err := ss.DeleteExpiredSSO(ctx, now.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredSSO = %d, %v; want 1", n, err)
	}
	if v := version(t, s); v != v0 {
		t.Errorf("sessions bumped the config version: %d, want %d", v, v0)
	}
}

func testSSOLoginStates(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	ss := ssoOf(t, s)
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(state, browser string, at time.Time) *whitelabel.SSOLoginState {
		return &whitelabel.SSOLoginState{State: state, TenantID: 3, Host: "a.example.com", Browser: browser, Provider: "oidc",
			Nonce: "n-" + state, CodeVerifier: "v-" + state, ReturnTo: "/x?y=1", CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
	}
	for i := range 5 {
		if err := ss.PutLoginState(ctx, mk(fmt.Sprint("st", i), "b1", now.Add(time.Duration(i)*time.Second)), 3); err != nil {
			t.Fatalf("PutLoginState %d = %v", i, err)
		}
	}
	if err := ss.PutLoginState(ctx, mk("other", "b2", now), 3); err != nil {
		t.Fatal(err)
	}
	// The cap keeps the newest three of b1: st2, st3, st4.
	for i := range 2 {
		_, err := ss.ConsumeLoginState(ctx, fmt.Sprint("st", i), now)
		checkCode(t, fmt.Sprintf("ConsumeLoginState(st%d, evicted)", i), err, whitelabel.CodeNotFound, "")
	}
	got, err := ss.ConsumeLoginState(ctx, "st4", now)
	if err != nil || !same(got, mk("st4", "b1", now.Add(4*time.Second))) {
		t.Errorf("ConsumeLoginState(st4) = %s, %v", js(got), err)
	}
	_, err = ss.ConsumeLoginState(ctx, "st4", now)
	checkCode(t, "ConsumeLoginState(st4 again)", err, whitelabel.CodeNotFound, "")
	_, err = ss.ConsumeLoginState(ctx, "st3", now.Add(time.Hour))
	checkCode(t, "ConsumeLoginState(expired)", err, whitelabel.CodeNotFound, "")
	if _, err := ss.ConsumeLoginState(ctx, "other", now); err != nil {
		t.Errorf("another browser's state = %v, want kept", err)
	}

	// Concurrent consumers: exactly one wins.
	if err := ss.PutLoginState(ctx, mk("race", "b3", now), 3); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			if _, err := ss.ConsumeLoginState(ctx, "race", now); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent consumers succeeded, want 1", wins)
	}
}
