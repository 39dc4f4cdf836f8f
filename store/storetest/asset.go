package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/estatecore/whitelabel"
)

func testAssets(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	as, ok := s.(whitelabel.AssetStore)
	if !ok {
		t.Fatalf("%T does not implement whitelabel.AssetStore", s)
	}
	p, _ := mustPartner(t, s, "assetp")
	a := mustTenant(t, s, p.ID, "asseta")
	b := mustTenant(t, s, p.ID, "assetb")
	data := []byte("\x89PNG\r\n\x1a\n\x00\x00binary\xff")
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	v0 := version(t, s)

	up := &whitelabel.Asset{SHA256: hash, ContentType: "image/png", Size: int64(len(data)), Data: data}
	audit := &whitelabel.AuditEntry{Actor: "test", Action: "asset.upload", TargetType: "asset"}
	if err := as.PutAsset(ctx, a.ID, whitelabel.AssetLogo, up, audit); err != nil {
		t.Fatalf("PutAsset: %v", err)
	}
	if up.CreatedAt.IsZero() || audit.ID == 0 || audit.TenantID != a.ID || audit.TargetID != hash {
		t.Errorf("PutAsset filled %+v, audit %+v", up, audit)
	}
	// The same content again, by another tenant and as another type:
	// stored once, linked twice more.
	again := &whitelabel.Asset{SHA256: hash, ContentType: "image/png", Size: int64(len(data)), Data: data}
	if err := as.PutAsset(ctx, b.ID, whitelabel.AssetFavicon, again, nil); err != nil {
		t.Fatalf("PutAsset again: %v", err)
	}
	if err := as.PutAsset(ctx, a.ID, whitelabel.AssetFavicon, again, nil); err != nil {
		t.Fatalf("PutAsset as favicon: %v", err)
	}
	if !again.CreatedAt.Equal(up.CreatedAt) {
		t.Errorf("CreatedAt of a stored asset = %v, want the first upload's %v", again.CreatedAt, up.CreatedAt)
	}
	if v := version(t, s); v != v0 {
		t.Errorf("config version moved %d → %d on upload", v0, v)
	}
	got, err := as.Asset(ctx, hash)
	if err != nil || !bytes.Equal(got.Data, data) || got.ContentType != "image/png" || got.Size != int64(len(data)) {
		t.Fatalf("Asset = %+v, %v", got, err)
	}
	if _, err := as.Asset(ctx, "00"+hash[2:]); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("Asset(missing) = %v, want not found", err)
	}
	la, err := as.ListTenantAssets(ctx, a.ID)
	if err != nil || len(la) != 2 {
		t.Fatalf("ListTenantAssets(a) = %+v, %v", la, err)
	}
	for _, x := range la {
		if x.SHA256 != hash || x.TenantID != a.ID || x.ContentType != "image/png" {
			t.Errorf("tenant asset %+v", x)
		}
	}
	if lb, _ := as.ListTenantAssets(ctx, b.ID); len(lb) != 1 || lb[0].Type != whitelabel.AssetFavicon {
		t.Errorf("ListTenantAssets(b) = %+v", lb)
	}
	if err := as.PutAsset(ctx, 999999, whitelabel.AssetLogo, up, nil); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("PutAsset(missing tenant) = %v, want not found", err)
	}
}

func testEmailTemplates(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	es, ok := s.(whitelabel.EmailTemplateStore)
	if !ok {
		t.Fatalf("%T does not implement whitelabel.EmailTemplateStore", s)
	}
	p, _ := mustPartner(t, s, "mailp")
	a := mustTenant(t, s, p.ID, "maila")
	v0 := version(t, s)
	tpl := &whitelabel.EmailTemplate{TenantID: a.ID, Name: "welcome_email", Subject: "Hi {{.user_name}}", HTML: "<p>x</p>", Text: "x"}
	if err := es.PutEmailTemplate(ctx, tpl, &whitelabel.AuditEntry{Actor: "test", Action: "email.put"}); err != nil {
		t.Fatalf("PutEmailTemplate: %v", err)
	}
	created := tpl.CreatedAt
	tpl2 := &whitelabel.EmailTemplate{TenantID: a.ID, Name: "welcome_email", Subject: "Hello", Text: "y"}
	if err := es.PutEmailTemplate(ctx, tpl2, nil); err != nil {
		t.Fatalf("PutEmailTemplate replace: %v", err)
	}
	if !tpl2.CreatedAt.Equal(created) || tpl2.UpdatedAt.Before(created) {
		t.Errorf("replace timestamps %v %v, first created %v", tpl2.CreatedAt, tpl2.UpdatedAt, created)
	}
	got, err := es.GetEmailTemplate(ctx, a.ID, "welcome_email")
	if err != nil || got.Subject != "Hello" || got.HTML != "" || got.Text != "y" {
		t.Fatalf("GetEmailTemplate = %+v, %v", got, err)
	}
	if err := es.PutEmailTemplate(ctx, &whitelabel.EmailTemplate{TenantID: a.ID, Name: "invitation", Subject: "s"}, nil); err != nil {
		t.Fatal(err)
	}
	l, err := es.ListEmailTemplates(ctx, a.ID)
	if err != nil || len(l) != 2 || l[0].Name != "invitation" || l[1].Name != "welcome_email" {
		t.Fatalf("ListEmailTemplates = %+v, %v", l, err)
	}
	if err := es.DeleteEmailTemplate(ctx, a.ID, "invitation", nil); err != nil {
		t.Fatal(err)
	}
	if err := es.DeleteEmailTemplate(ctx, a.ID, "invitation", nil); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("second delete = %v, want not found", err)
	}
	if _, err := es.GetEmailTemplate(ctx, a.ID, "invitation"); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("get deleted = %v, want not found", err)
	}
	if err := es.PutEmailTemplate(ctx, &whitelabel.EmailTemplate{TenantID: 999999, Name: "invitation"}, nil); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("put for missing tenant = %v, want not found", err)
	}
	if v := version(t, s); v != v0 {
		t.Errorf("config version moved %d → %d on template writes", v0, v)
	}
}
