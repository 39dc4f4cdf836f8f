package theming

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	var b strings.Builder
	err := Render(&b, Page{Kind: PageSuspended, Brand: Brand{Name: "<Acme & Co>", Primary: "#ff6b35"}, RequestID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Site suspended", "&lt;Acme &amp; Co&gt;", "--color-primary: #ff6b35;", "Error 403", "req-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("Render output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<Acme") {
		t.Errorf("Render did not escape the brand name:\n%s", out)
	}
}

func TestRenderDefaults(t *testing.T) {
	for k := PageGeneric; k <= PageLoginChooser; k++ {
		var b strings.Builder
		if err := Render(&b, Page{Kind: k, Brand: Brand{Primary: "javascript:x"}}); err != nil {
			t.Fatalf("Render(kind %d): %v", k, err)
		}
		if !strings.Contains(b.String(), "--color-primary: "+DefaultPrimary+";") {
			t.Errorf("Render(kind %d) did not fall back to the default colour", k)
		}
		if k != PageLoginChooser && k.Status() < 400 {
			t.Errorf("PageKind(%d).Status() = %d", k, k.Status())
		}
	}
}

func TestRenderBrandAndLinks(t *testing.T) {
	b, err := ParseBrand([]byte(`{"name":"Acme","colors":{"primary":"#ff6b35"},"typography":{"font_family_primary":"'Inter', sans-serif"},"logo":{"primary":"https://cdn.acme.com/logo.png"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = Render(&out, Page{Kind: PageLoginChooser, Brand: b, Links: []PageLink{{"Okta <SSO>", "/_edge/sso/login?provider=okta"}, {"Bad", "javascript:alert(1)"}}})
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"--font-family-primary: 'Inter', sans-serif;", `<img src="https://cdn.acme.com/logo.png"`, "Okta &lt;SSO&gt;", `href="/_edge/sso/login?provider=okta"`, "#ZgotmplZ", "Choose how you want to sign in."} {
		if !strings.Contains(s, want) {
			t.Errorf("login chooser lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "javascript:") || strings.Contains(s, "Error 200") {
		t.Errorf("login chooser has an unsafe link or an error line:\n%s", s)
	}
}

func TestRenderPreview(t *testing.T) {
	b, _ := ParseBrand([]byte(`{"colors":{"primary":"#123456"}}`))
	var out strings.Builder
	if err := RenderPreview(&out, b, "Acme & Co"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--color-primary: #123456;", `class="btn-primary"`, "Acme &amp; Co"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("preview lacks %q", want)
		}
	}
}
