package theming

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestParseBrand(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		wantField string            // "" for no error
		want      map[string]string // field → canonical value
	}{
		{name: "empty", raw: ``},
		{name: "null", raw: `null`},
		{name: "empty object", raw: `{}`},
		{name: "reference theme", raw: `{"colors":{"primary":"#007bff","secondary":"#6c757d","success":"#28a745","danger":"#dc3545"},
			"typography":{"font_family_primary":"'Inter', sans-serif","font_size_base":"1rem"},
			"layout":{"border_radius":"0.5rem","container_max_width":"1200px"}}`,
			want: map[string]string{"colors.primary": "#007bff", "typography.font_family_primary": "'Inter', sans-serif", "layout.border_radius": "0.5rem", "layout.container_max_width": "1200px"}},
		{name: "upper hex lowered", raw: `{"colors":{"primary":"#FF6B35"}}`, want: map[string]string{"colors.primary": "#ff6b35"}},
		{name: "short hex with alpha", raw: `{"colors":{"primary":"#abcd"}}`, want: map[string]string{"colors.primary": "#abcd"}},
		{name: "rgb commas", raw: `{"colors":{"primary":"rgb(255,107, 53)"}}`, want: map[string]string{"colors.primary": "rgb(255, 107, 53)"}},
		{name: "rgb spaces and alpha", raw: `{"colors":{"primary":"rgb(255 107 53 / 50%)"}}`, want: map[string]string{"colors.primary": "rgba(255, 107, 53, 0.5)"}},
		{name: "rgba percent", raw: `{"colors":{"primary":"RGBA(100%, 0%, 0%, 0.25)"}}`, want: map[string]string{"colors.primary": "rgba(255, 0, 0, 0.25)"}},
		{name: "hsl", raw: `{"colors":{"secondary":"hsl(210deg, 50%, 40%)"}}`, want: map[string]string{"colors.secondary": "hsl(210, 50%, 40%)"}},
		{name: "named colour", raw: `{"colors":{"primary":"RebeccaPurple","text":"transparent"}}`, want: map[string]string{"colors.primary": "rebeccapurple", "colors.text": "transparent"}},
		{name: "font list", raw: `{"typography":{"font_family_heading":"\"Open Sans\" , Segoe UI,system-ui"}}`, want: map[string]string{"typography.font_family_heading": "'Open Sans', 'Segoe UI', system-ui"}},
		{name: "lengths", raw: `{"typography":{"font_size_base":"16PX","line_height_base":"1.60"},"layout":{"spacing_unit":"0"}}`, want: map[string]string{"typography.font_size_base": "16px", "typography.line_height_base": "1.6", "layout.spacing_unit": "0"}},
		{name: "https logo and asset favicon", raw: `{"logo":{"primary":"https://cdn.acme.com/logo.png?v=2","favicon":"/_edge/assets/` + strings.Repeat("ab", 32) + `.ico"}}`,
			want: map[string]string{"logo.primary": "https://cdn.acme.com/logo.png?v=2", "logo.favicon": "/_edge/assets/" + strings.Repeat("ab", 32) + ".ico"}},
		{name: "favicon alias", raw: `{"favicon":"https://acme.com/f.ico"}`, want: map[string]string{"logo.favicon": "https://acme.com/f.ico"}},
		{name: "email", raw: `{"email":{"from_name":"Acme <Team>","support_email":"help@acme.com"}}`, want: map[string]string{"email.from_name": "Acme <Team>", "email.support_email": "help@acme.com"}},
		{name: "null value unset", raw: `{"colors":{"primary":null}}`},

		// Injection attempts and other invalid values, each naming its field.
		{name: "declaration break in colour", raw: `{"colors":{"primary":"#fff;}body{background:url(x)"}}`, wantField: "colors.primary"},
		{name: "semicolon after valid colour", raw: `{"colors":{"primary":"red;"}}`, wantField: "colors.primary"},
		{name: "rule break in rgb", raw: `{"colors":{"primary":"rgb(1,2,3)}*{color:red"}}`, wantField: "colors.primary"},
		{name: "expression", raw: `{"colors":{"primary":"expression(alert(1))"}}`, wantField: "colors.primary"},
		{name: "var() not a colour", raw: `{"colors":{"primary":"var(--x)"}}`, wantField: "colors.primary"},
		{name: "url as colour", raw: `{"colors":{"danger":"url(https://x/y)"}}`, wantField: "colors.danger"},
		{name: "unknown name", raw: `{"colors":{"primary":"reddish"}}`, wantField: "colors.primary"},
		{name: "rgb out of range", raw: `{"colors":{"primary":"rgb(300, 0, 0)"}}`, wantField: "colors.primary"},
		{name: "hsl needs percents", raw: `{"colors":{"primary":"hsl(10, 50, 50)"}}`, wantField: "colors.primary"},
		{name: "bad hex digit", raw: `{"colors":{"primary":"#ggg"}}`, wantField: "colors.primary"},
		{name: "colour number", raw: `{"colors":{"primary":255}}`, wantField: "colors.primary"},
		{name: "html in font", raw: `{"typography":{"font_family_primary":"</style><script>alert(1)</script>"}}`, wantField: "typography.font_family_primary"},
		{name: "backslash escape in font", raw: `{"typography":{"font_family_primary":"'A\\27 ;}', serif"}}`, wantField: "typography.font_family_primary"},
		{name: "quote break in font", raw: `{"typography":{"font_family_primary":"'Inter'; color: red"}}`, wantField: "typography.font_family_primary"},
		{name: "import in font", raw: `{"typography":{"font_family_primary":"@import url(https://evil)"}}`, wantField: "typography.font_family_primary"},
		{name: "comment in font", raw: `{"typography":{"font_family_heading":"Inter /* x */"}}`, wantField: "typography.font_family_heading"},
		{name: "keyword font", raw: `{"typography":{"font_family_heading":"inherit"}}`, wantField: "typography.font_family_heading"},
		{name: "length without unit", raw: `{"typography":{"font_size_base":"16"}}`, wantField: "typography.font_size_base"},
		{name: "negative length", raw: `{"layout":{"border_radius":"-1px"}}`, wantField: "layout.border_radius"},
		{name: "calc length", raw: `{"layout":{"border_radius":"calc(1px + 2px)"}}`, wantField: "layout.border_radius"},
		{name: "length with break", raw: `{"layout":{"container_max_width":"1200px;}html{display:none"}}`, wantField: "layout.container_max_width"},
		{name: "font weight", raw: `{"typography":{"font_weight_bold":"650"}}`, wantField: "typography.font_weight_bold"},
		{name: "http logo", raw: `{"logo":{"primary":"http://cdn.acme.com/logo.png"}}`, wantField: "logo.primary"},
		{name: "javascript logo", raw: `{"logo":{"primary":"javascript:alert(1)"}}`, wantField: "logo.primary"},
		{name: "data logo", raw: `{"logo":{"primary":"data:image/svg+xml,<svg onload=alert(1)>"}}`, wantField: "logo.primary"},
		{name: "url breakout", raw: `{"logo":{"background":"https://x.com/a\");}body{color:red"}}`, wantField: "logo.background"},
		{name: "url with paren", raw: `{"logo":{"primary":"https://x.com/a)b"}}`, wantField: "logo.primary"},
		{name: "protocol-relative", raw: `{"logo":{"primary":"//evil.com/x.png"}}`, wantField: "logo.primary"},
		{name: "foreign asset path", raw: `{"logo":{"primary":"/_edge/assets/../../etc/passwd"}}`, wantField: "logo.primary"},
		{name: "svg asset path", raw: `{"logo":{"primary":"/_edge/assets/` + strings.Repeat("ab", 32) + `.svg"}}`, wantField: "logo.primary"},
		{name: "unknown colour key", raw: `{"colors":{"primary":"#fff","accent":"#000"}}`, wantField: "colors.accent"},
		{name: "unknown top key", raw: `{"custom_css":"body{}"}`, wantField: "custom_css"},
		{name: "group not object", raw: `{"colors":"#fff"}`, wantField: "colors"},
		{name: "inject not bool", raw: `{"inject":"no"}`, wantField: "inject"},
		{name: "control char in name", raw: `{"name":"A\u0000B"}`, wantField: "name"},
		{name: "too long name", raw: `{"name":"` + strings.Repeat("x", 201) + `"}`, wantField: "name"},
		{name: "control in e-mail text", raw: `{"email":{"footer":"a\u0007"}}`, wantField: "email.footer"},
		{name: "bad support e-mail", raw: `{"email":{"support_email":"Help <help@acme.com>"}}`, wantField: "email.support_email"},
		{name: "not an object", raw: `[1]`, wantField: "brand_config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBrand(json.RawMessage(tt.raw))
			var e *whitelabel.Error
			switch {
			case tt.wantField == "" && err != nil:
				t.Fatalf("ParseBrand(%s) error = %v, want nil", tt.raw, err)
			case tt.wantField != "" && (!errors.As(err, &e) || e.Code != whitelabel.CodeInvalid || e.Field != tt.wantField):
				t.Fatalf("ParseBrand(%s) error = %v, want invalid %s", tt.raw, err, tt.wantField)
			}
			for f, v := range tt.want {
				if g := got.Value(f); g != v {
					t.Errorf("ParseBrand(%s).Value(%q) = %q, want %q", tt.raw, f, g, v)
				}
			}
			if tt.wantField != "" {
				if v := got.Value(tt.wantField); v != "" {
					t.Errorf("invalid %s kept as %q", tt.wantField, v)
				}
			}
		})
	}
}

func TestParseBrandKeepsValidValues(t *testing.T) {
	b, err := ParseBrand([]byte(`{"name":"Acme","colors":{"primary":"red;","secondary":"#004e89"},"inject":false}`))
	if err == nil {
		t.Fatal("want an error")
	}
	if b.Name != "Acme" || b.Value("colors.secondary") != "#004e89" || b.Primary != "" || b.Inject() {
		t.Errorf("ParseBrand kept %+v", b)
	}
	if got := b.Effective("colors.primary"); got != DefaultPrimary {
		t.Errorf("Effective(colors.primary) = %q, want the default", got)
	}
}

func TestMergeBrandConfig(t *testing.T) {
	tests := []struct{ name, base, patch, want string }{
		{"into empty", ``, `{"colors":{"primary":"#fff"}}`, `{"colors":{"primary":"#fff"}}`},
		{"merge nested", `{"colors":{"primary":"#fff"},"name":"A"}`, `{"colors":{"secondary":"#000"}}`, `{"colors":{"primary":"#fff","secondary":"#000"},"name":"A"}`},
		{"replace value", `{"colors":{"primary":"#fff"}}`, `{"colors":{"primary":"#000"}}`, `{"colors":{"primary":"#000"}}`},
		{"null deletes", `{"colors":{"primary":"#fff"},"name":"A"}`, `{"colors":{"primary":null},"name":null}`, `{}`},
		{"scalar replaces object", `{"favicon":"https://a.b/c.ico"}`, `{"favicon":null,"inject":false}`, `{"inject":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MergeBrandConfig(json.RawMessage(tt.base), json.RawMessage(tt.patch))
			if err != nil || string(got) != tt.want {
				t.Errorf("MergeBrandConfig(%s, %s) = %s, %v, want %s", tt.base, tt.patch, got, err, tt.want)
			}
		})
	}
	if _, err := MergeBrandConfig(nil, json.RawMessage(`[1]`)); err == nil {
		t.Error("MergeBrandConfig accepted an array patch")
	}
}

// TestThemeCSSGolden compares the generated CSS with testdata/*.css;
// run with -update to rewrite them after an intended change.
func TestThemeCSSGolden(t *testing.T) {
	tests := []struct{ name, brand string }{
		{"default", `{}`},
		{"reference", `{"colors":{"primary":"#007bff","secondary":"#6c757d","success":"#28a745","danger":"#dc3545"},"typography":{"font_family_primary":"'Inter', sans-serif","font_size_base":"1rem"},"layout":{"border_radius":"0.5rem","container_max_width":"1200px"}}`},
		{"acme", `{"name":"Acme","colors":{"primary":"#ff6b35","secondary":"hsl(206, 100%, 27%)","background":"ivory"},"typography":{"font_family_heading":"\"Playfair Display\", serif","line_height_base":"1.6"},"logo":{"primary":"https://cdn.acme.com/logo.png","favicon":"https://cdn.acme.com/favicon.ico","background":"/_edge/assets/` + strings.Repeat("0f", 32) + `.webp"}}`},
		{"light-primary", `{"colors":{"primary":"rgb(255 230 0)"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBrand([]byte(tt.brand))
			if err != nil {
				t.Fatal(err)
			}
			got := b.CSS()
			if !bytes.Equal(got, b.CSS()) {
				t.Fatal("CSS is not deterministic")
			}
			checkCSS(t, got)
			path := filepath.Join("testdata", tt.name+".css")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("CSS of %s differs from %s (run go test -update if intended):\n%s", tt.name, path, got)
			}
		})
	}
}

func TestNewTheme(t *testing.T) {
	b, _ := ParseBrand([]byte(`{"colors":{"primary":"#ff6b35"},"logo":{"favicon":"https://a.example/f.ico?x=1&y=2"}}`))
	th := NewTheme(b)
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(th.ETag) || th.ETag != `"`+th.Version+`"` {
		t.Errorf("ETag = %s, Version = %s", th.ETag, th.Version)
	}
	want := `<link rel="stylesheet" href="/_edge/theme.css?v=` + th.Version + `"><link rel="icon" href="https://a.example/f.ico?x=1&amp;y=2">`
	if string(th.Snippet) != want {
		t.Errorf("Snippet = %s, want %s", th.Snippet, want)
	}
	if NewTheme(Brand{}).ETag == th.ETag {
		t.Error("different brands share an ETag")
	}
}

// cssRule matches one rule of the generated CSS: selectors, then
// declarations.
var (
	cssSelector = regexp.MustCompile(`^(:root|[a-z0-9]+(\.[a-z-]+)?|\.[a-z-]+)(, ?(:root|[a-z0-9]+(\.[a-z-]+)?|\.[a-z-]+))*$`)
	cssProperty = regexp.MustCompile(`^(--[a-z-]+|[a-z-]+)$`)
)

// checkCSS is the structural oracle of the fuzz test: the CSS must be a
// flat list of rules with known-shape selectors, each declaration one
// property and one value, and no byte sequence that could start another
// construct anywhere.
func checkCSS(t testing.TB, css []byte) {
	t.Helper()
	s := string(css)
	const header = "/* Theme generated from the tenant's brand. Do not edit. */\n"
	if !strings.HasPrefix(s, header) {
		t.Fatalf("CSS lacks its header:\n%s", s)
	}
	s = s[len(header):]
	lower := strings.ToLower(s)
	for _, bad := range []string{"<", "\\", "@import", "@", "expression(", "/*", "*/", "javascript:"} {
		if strings.Contains(lower, bad) {
			t.Fatalf("CSS contains %q:\n%s", bad, s)
		}
	}
	rules := strings.Split(strings.TrimSpace(s), "}")
	if rules[len(rules)-1] != "" {
		t.Fatalf("CSS does not end with }:\n%s", s)
	}
	for _, r := range rules[:len(rules)-1] {
		sel, body, ok := strings.Cut(r, "{")
		if !ok || strings.Contains(body, "{") {
			t.Fatalf("malformed rule %q", r)
		}
		if sel = strings.TrimSpace(sel); !cssSelector.MatchString(sel) {
			t.Fatalf("unexpected selector %q", sel)
		}
		decls := strings.Split(strings.TrimSpace(body), ";")
		if decls[len(decls)-1] != "" {
			t.Fatalf("rule %q does not end with ;", sel)
		}
		for _, d := range decls[:len(decls)-1] {
			prop, val, ok := strings.Cut(d, ":")
			if !ok || !cssProperty.MatchString(strings.TrimSpace(prop)) || strings.TrimSpace(val) == "" {
				t.Fatalf("malformed declaration %q in %s", d, sel)
			}
			if strings.Count(val, `"`)%2 != 0 || strings.Count(val, "(") != strings.Count(val, ")") {
				t.Fatalf("unbalanced value %q in %s", val, sel)
			}
		}
	}
}

func FuzzParseBrand(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"colors":{"primary":"#ff6b35"}}`,
		`{"colors":{"primary":"rgb(1 2 3 / 50%)","secondary":"hsl(1,2%,3%)","text":"red"}}`,
		`{"typography":{"font_family_primary":"'Inter', sans-serif","font_size_base":"1rem"}}`,
		`{"layout":{"border_radius":"0.5rem"},"logo":{"primary":"https://a.b/c.png"}}`,
		`{"colors":{"primary":"#fff;}body{x:y"}}`,
		`{"typography":{"font_family_primary":"'a\\'; }"}}`,
		`{"logo":{"background":"https://a.b/\");@import url(x)"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := ParseBrand(raw)
		// Whatever was accepted, even alongside an error, must give
		// well-formed CSS.
		checkCSS(t, b.CSS())
		if err == nil {
			return
		}
		var e *whitelabel.Error
		if !errors.As(err, &e) || e.Code != whitelabel.CodeInvalid || e.Field == "" {
			t.Fatalf("ParseBrand(%q) error %v is not an invalid-input error naming a field", raw, err)
		}
	})
}

// FuzzColor feeds the colour grammar directly, where most of the
// parsing is.
func FuzzColor(f *testing.F) {
	for _, s := range []string{"#fff", "rgb(1,2,3)", "hsla(1 2% 3% / .5)", "red", "rgb(1,2,3);}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseColor("c", s)
		if err != nil {
			return
		}
		if strings.ContainsAny(c, ";{}<>\\\"'@/*") && !strings.Contains(c, " / ") {
			t.Fatalf("ParseColor(%q) = %q", s, c)
		}
		again, err := ParseColor("c", c)
		if err != nil || again != c {
			t.Fatalf("ParseColor is not idempotent: %q → %q → %q, %v", s, c, again, err)
		}
	})
}
