package theming

import (
	"errors"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestBuiltinEmailsCompile(t *testing.T) {
	for _, name := range EmailNames() {
		if _, err := CompileEmail(name, EmailTemplate{}); err != nil {
			t.Errorf("CompileEmail(%s): %v", name, err)
		}
	}
}

func TestLookupBuiltinEmail(t *testing.T) {
	b, ok := LookupBuiltinEmail("welcome_email")
	if !ok || b.Template.Subject == "" || len(b.Variables) == 0 {
		t.Fatalf("LookupBuiltinEmail(welcome_email) = %+v, %v; want the built-in", b, ok)
	}
	b.Variables[0] = "changed"
	if again, _ := LookupBuiltinEmail("welcome_email"); again.Variables[0] == "changed" {
		t.Error("LookupBuiltinEmail returned shared Variables")
	}
	if _, ok := LookupBuiltinEmail("no_such_email"); ok {
		t.Error("LookupBuiltinEmail(no_such_email) found one")
	}
}

func TestRenderEmail(t *testing.T) {
	b, _ := ParseBrand([]byte(`{"name":"Acme <Homes>","colors":{"primary":"#ff6b35"},"logo":{"primary":"/_edge/assets/` + strings.Repeat("ab", 32) + `.png"},"email":{"footer":"Acme Ltd, 1 Main St","support_email":"help@acme.com"}}`))
	c, err := CompileEmail("welcome_email", EmailTemplate{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Render(map[string]string{"user_name": "John <b>Doe</b>\r\nBcc: x@y", "login_url": "javascript:alert(1)"}, EmailOptions{Brand: b, AssetBase: "https://acme.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Welcome to Acme <Homes>, John <b>Doe</b> Bcc: x@y"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	for _, want := range []string{"John &lt;b&gt;Doe&lt;/b&gt;", "Acme &lt;Homes&gt;", "background-color:#ff6b35", `src="https://acme.example.com/_edge/assets/`, "#ZgotmplZ", "Acme Ltd, 1 Main St", "mailto:help@acme.com"} {
		if !strings.Contains(got.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, got.HTML)
		}
	}
	if strings.Contains(got.HTML, "<b>Doe") || strings.Contains(got.HTML, "javascript:") {
		t.Errorf("HTML not escaped:\n%s", got.HTML)
	}
	if !strings.Contains(got.Text, "Hi John <b>Doe</b>") || !strings.HasSuffix(got.Text, "--\nAcme Ltd, 1 Main St\n") {
		t.Errorf("Text = %q", got.Text)
	}
}

func TestEmailErrors(t *testing.T) {
	field := func(err error) string {
		var e *whitelabel.Error
		if !errors.As(err, &e) || e.Code != whitelabel.CodeInvalid {
			return "not invalid: " + errString(err)
		}
		return e.Field
	}
	compile := []struct {
		name, tmpl string
		t          EmailTemplate
		want       string
	}{
		{"unknown name", "nope", EmailTemplate{}, "name"},
		{"syntax", "welcome_email", EmailTemplate{HTML: "<p>{{.user_name</p>"}, "html"},
		{"unknown variable in template", "welcome_email", EmailTemplate{Text: "{{.password}}"}, "text"},
		{"function call", "welcome_email", EmailTemplate{Subject: `{{printf "%s" .user_name}}`}, "subject"},
		{"define", "welcome_email", EmailTemplate{Text: `{{define "x"}}y{{end}}`}, "text"},
		{"template call", "welcome_email", EmailTemplate{HTML: `{{template "html"}}`}, "html"},
		{"range", "welcome_email", EmailTemplate{HTML: `{{range .user_name}}x{{end}}`}, "html"},
		{"nested field", "welcome_email", EmailTemplate{HTML: `{{.user_name.x}}`}, "html"},
		{"too big", "welcome_email", EmailTemplate{HTML: strings.Repeat("x", 65<<10)}, "html"},
	}
	for _, tt := range compile {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileEmail(tt.tmpl, tt.t)
			if f := field(err); f != tt.want {
				t.Errorf("CompileEmail error %v: field %q, want %q", err, f, tt.want)
			}
		})
	}
	c, _ := CompileEmail("password_reset", EmailTemplate{})
	for _, tt := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"unknown variable", map[string]string{"user_name": "a", "reset_url": "https://x", "expires_in": "1h", "coupon": "x"}, "variables.coupon"},
		{"brand variable not passable", map[string]string{"user_name": "a", "reset_url": "https://x", "expires_in": "1h", "brand_name": "x"}, "variables.brand_name"},
		{"missing required", map[string]string{"user_name": "a", "expires_in": "1h"}, "variables.reset_url"},
		{"too long", map[string]string{"user_name": strings.Repeat("a", 2001), "reset_url": "https://x", "expires_in": "1h"}, "variables.user_name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Render(tt.vars, EmailOptions{})
			if f := field(err); f != tt.want {
				t.Errorf("Render error %v: field %q, want %q", err, f, tt.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
