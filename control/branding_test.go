package control

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestBrandingMergeAndEffective(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("merge")
		id := idOf(e.createTenant(p, "mergy", map[string]any{"brand_config": map[string]any{"name": "Mergy", "colors": map[string]any{"primary": "#ff6b35"}}}))
		k := apiKey(p.key)

		g := e.must(200, "GET", tenantPath(id, "branding"), k, nil).obj(t)
		eff := g["effective"].(map[string]any)
		mustEqual(t, "effective primary", eff["colors"].(map[string]any)["primary"], any("#ff6b35"))
		mustEqual(t, "effective default secondary", eff["colors"].(map[string]any)["secondary"], any("#6c757d"))
		mustEqual(t, "effective inject", eff["inject"], any(true))
		if u, _ := g["theme_url"].(string); !strings.HasPrefix(u, "/_edge/theme.css?v=") {
			t.Errorf("theme_url = %v", g["theme_url"])
		}

		// A partial update keeps what it does not mention.
		r := e.must(200, "PUT", tenantPath(id, "branding"), k, `{"colors":{"secondary":"rgb(0, 78, 137)"},"typography":{"font_family_primary":"'Roboto', sans-serif"}}`).obj(t)
		bc := r["brand_config"].(map[string]any)
		mustEqual(t, "kept name", bc["name"], any("Mergy"))
		mustEqual(t, "kept primary", bc["colors"].(map[string]any)["primary"], any("#ff6b35"))
		mustEqual(t, "new secondary", bc["colors"].(map[string]any)["secondary"], any("rgb(0, 78, 137)"))
		// null resets to the default.
		r = e.must(200, "PUT", tenantPath(id, "branding"), k, `{"colors":{"primary":null}}`).obj(t)
		if _, ok := r["brand_config"].(map[string]any)["colors"].(map[string]any)["primary"]; ok {
			t.Error("primary not removed by null")
		}
		mustEqual(t, "effective primary after reset", r["effective"].(map[string]any)["colors"].(map[string]any)["primary"], any("#2f5bea"))
		// A bad value leaves the stored config alone.
		bad := e.do("PUT", tenantPath(id, "branding"), k, `{"colors":{"primary":"#fff;}body{display:none"},"name":"Changed"}`)
		if _, f := bad.errCode(t); bad.status != 400 || f != "colors.primary" {
			t.Errorf("bad PUT = %d field %q", bad.status, f)
		}
		g = e.must(200, "GET", tenantPath(id, "branding"), k, nil).obj(t)
		mustEqual(t, "name after refused PUT", g["brand_config"].(map[string]any)["name"], any("Mergy"))

		// Theme CSS with ETag and 304; preview page.
		css := e.must(200, "GET", tenantPath(id, "branding", "theme.css"), k, nil)
		if !strings.Contains(string(css.body), ".btn-primary {") || css.header.Get("Content-Type") != "text/css; charset=utf-8" {
			t.Errorf("theme.css %s\n%s", css.header, css.body)
		}
		e.must(304, "GET", tenantPath(id, "branding", "theme.css"), k, nil, "If-None-Match", css.header.Get("ETag"))
		pv := e.must(200, "GET", tenantPath(id, "branding", "preview"), k, nil)
		if !strings.Contains(string(pv.body), `class="btn-primary"`) || !strings.Contains(pv.header.Get("Content-Type"), "text/html") {
			t.Errorf("preview %s", pv.body)
		}
		// Create-time validation uses the same grammar.
		c := e.do("POST", BasePath+"/tenants", k, map[string]any{"name": "X", "subdomain": "badbrand", "contact_email": "a@b.test",
			"brand_config": map[string]any{"typography": map[string]any{"font_size_base": "expression(alert(1))"}}})
		if _, f := c.errCode(t); c.status != 400 || f != "brand_config.typography.font_size_base" {
			t.Errorf("create with bad brand = %d %q", c.status, f)
		}
	})
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// webpBytes is a 1×1 lossless WebP.
var webpBytes = []byte{0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c,
	0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00}

func icoBytes() []byte {
	b := make([]byte, 6+16+4)
	binary.LittleEndian.PutUint16(b[2:], 1) // type icon
	binary.LittleEndian.PutUint16(b[4:], 1) // one image
	b[6], b[7] = 16, 16
	return b
}

func multipartBody(t *testing.T, fields map[string]string, file []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("file", "upload.png") // the name and part type are ignored
		fw.Write(file)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func TestAssetUpload(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("assets")
		id := idOf(e.createTenant(p, "assety", nil))
		k := apiKey(p.key)
		upload := func(typ string, file []byte) *resp {
			body, ct := multipartBody(t, map[string]string{"asset_type": typ}, file)
			return e.do("POST", tenantPath(id, "branding", "upload"), k, body, "Content-Type", ct)
		}
		tests := []struct {
			name, typ string
			file      []byte
			want      int
			wantCT    string
			wantField string
		}{
			{"png logo", "logo", pngBytes(t, 8, 8), 201, "image/png", ""},
			{"jpeg background", "background", jpegBytes(t), 201, "image/jpeg", ""},
			{"webp logo", "logo", webpBytes, 201, "image/webp", ""},
			{"ico favicon", "favicon", icoBytes(), 201, "image/vnd.microsoft.icon", ""},
			{"svg refused", "logo", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), 415, "", "file"},
			{"html refused", "logo", []byte(`<html><script>alert(1)</script></html>`), 415, "", "file"},
			{"damaged png", "logo", []byte("\x89PNG\r\n\x1a\nnot really"), 400, "", "file"},
			{"too many pixels", "logo", pngBytes(t, 4097, 1), 400, "", "file"},
			{"too large", "logo", append(pngBytes(t, 1, 1), make([]byte, MaxAssetBytes)...), 413, "", "file"},
			{"unknown type", "banner", pngBytes(t, 1, 1), 400, "", "asset_type"},
			{"no file", "logo", nil, 400, "", "file"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := upload(tt.typ, tt.file)
				if r.status != tt.want {
					t.Fatalf("upload = %d, want %d\n%s", r.status, tt.want, r.body)
				}
				if tt.want != 201 {
					if _, f := r.errCode(t); f != tt.wantField {
						t.Errorf("field = %q, want %q", f, tt.wantField)
					}
					return
				}
				a := r.obj(t)
				url := a["url"].(string)
				mustEqual(t, "content_type", a["content_type"], any(tt.wantCT))
				if !strings.HasPrefix(url, "/_edge/assets/"+a["sha256"].(string)+".") {
					t.Errorf("url = %s", url)
				}
				field := map[string]string{"logo": "primary", "favicon": "favicon", "background": "background"}[tt.typ]
				mustEqual(t, "brand logo."+field, a["brand_config"].(map[string]any)["logo"].(map[string]any)[field], any(url))
			})
		}
		// The same bytes twice: one asset.
		r1 := upload("logo", pngBytes(t, 3, 3)).obj(t)
		r2 := upload("logo", pngBytes(t, 3, 3)).obj(t)
		mustEqual(t, "same hash", r1["sha256"], r2["sha256"])
		// Wrong Content-Type is 415.
		r := e.do("POST", tenantPath(id, "branding", "upload"), k, `{"asset_type":"logo"}`)
		if r.status != 415 {
			t.Errorf("JSON upload = %d, want 415", r.status)
		}
		// The brand may refer only to this tenant's uploads.
		other := idOf(e.createTenant(p, "otherasset", nil))
		e.must(400, "PUT", tenantPath(other, "branding"), k, map[string]any{"logo": map[string]any{"primary": r1["url"]}})
		e.must(200, "PUT", tenantPath(id, "branding"), k, map[string]any{"logo": map[string]any{"favicon": r1["url"]}})
		missing := "/_edge/assets/" + strings.Repeat("0", 64) + ".png"
		if r := e.do("PUT", tenantPath(id, "branding"), k, map[string]any{"logo": map[string]any{"primary": missing}}); r.status != 400 {
			t.Errorf("unknown asset in brand = %d", r.status)
		}
		// Uploaded bytes are in the store, content-addressed.
		got, err := st.(whitelabel.AssetStore).Asset(t.Context(), r1["sha256"].(string))
		if err != nil || got.ContentType != "image/png" {
			t.Errorf("stored asset %v, %v", got, err)
		}
	})
}

func TestEmailTemplates(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("mail")
		id := idOf(e.createTenant(p, "maily", map[string]any{"brand_config": map[string]any{"name": "Maily <Homes>", "colors": map[string]any{"primary": "#ff6b35"}}}))
		k := apiKey(p.key)

		l := e.must(200, "GET", tenantPath(id, "email-templates"), k, nil).obj(t)["templates"].([]any)
		if len(l) != 3 {
			t.Fatalf("templates = %v", l)
		}
		render := func(body string) *resp { return e.do("POST", tenantPath(id, "emails", "render"), k, body) }
		r := render(`{"template":"welcome_email","variables":{"user_name":"John <b>Doe</b>"}}`)
		if r.status != 200 {
			t.Fatalf("render = %d %s", r.status, r.body)
		}
		m := r.obj(t)
		mustEqual(t, "subject", m["subject"], any("Welcome to Maily <Homes>, John <b>Doe</b>"))
		if h := m["html"].(string); !strings.Contains(h, "John &lt;b&gt;Doe&lt;/b&gt;") || !strings.Contains(h, "#ff6b35") {
			t.Errorf("html = %s", h)
		}
		// An override is used by render and shown by GET.
		e.must(200, "PUT", tenantPath(id, "email-templates", "welcome_email"), k, `{"subject":"Hello {{.user_name}} from {{.brand_name}}"}`)
		g := e.must(200, "GET", tenantPath(id, "email-templates", "welcome_email"), k, nil).obj(t)
		mustEqual(t, "overridden", g["overridden"], any(true))
		m = render(`{"template":"welcome_email","variables":{"user_name":"Ann"}}`).obj(t)
		mustEqual(t, "override subject", m["subject"], any("Hello Ann from Maily <Homes>"))
		e.must(200, "DELETE", tenantPath(id, "email-templates", "welcome_email"), k, nil)
		e.must(404, "DELETE", tenantPath(id, "email-templates", "welcome_email"), k, nil)

		for _, tt := range []struct {
			name, method, path, body, field string
			want                            int
		}{
			{"unknown variable", "POST", tenantPath(id, "emails", "render"), `{"template":"welcome_email","variables":{"user_name":"a","coupon":"x"}}`, "variables.coupon", 400},
			{"missing variable", "POST", tenantPath(id, "emails", "render"), `{"template":"password_reset","variables":{"user_name":"a"}}`, "variables.expires_in", 400},
			{"unknown template", "POST", tenantPath(id, "emails", "render"), `{"template":"newsletter"}`, "template", 400},
			{"syntax error", "PUT", tenantPath(id, "email-templates", "invitation"), `{"html":"<p>{{.accept_url</p>"}`, "html", 400},
			{"unknown variable in template", "PUT", tenantPath(id, "email-templates", "invitation"), `{"text":"{{.password}}"}`, "text", 400},
			{"function call", "PUT", tenantPath(id, "email-templates", "invitation"), `{"subject":"{{printf \"%s\" .user_name}}"}`, "subject", 400},
			{"unknown name", "PUT", tenantPath(id, "email-templates", "newsletter"), `{"subject":"x"}`, "", 404},
			{"unknown field", "PUT", tenantPath(id, "email-templates", "invitation"), `{"subjekt":"x"}`, "subjekt", 400},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do(tt.method, tt.path, k, tt.body)
				if r.status != tt.want {
					t.Fatalf("%s %s = %d, want %d\n%s", tt.method, tt.path, r.status, tt.want, r.body)
				}
				if tt.field != "" {
					if _, f := r.errCode(t); f != tt.field {
						t.Errorf("field = %q, want %q", f, tt.field)
					}
				}
			})
		}
	})
}
