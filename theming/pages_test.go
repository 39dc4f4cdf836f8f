package theming

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestParseBrand(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		want      Brand
		wantField string // "" for no error
	}{
		{name: "empty", raw: ``, want: Brand{}},
		{name: "null", raw: `null`, want: Brand{}},
		{name: "empty object", raw: `{}`, want: Brand{}},
		{name: "name and colour", raw: `{"name":"Acme Properties","colors":{"primary":"#FF6B35","secondary":"#004e89"}}`, want: Brand{Name: "Acme Properties", Primary: "#ff6b35"}},
		{name: "short hex", raw: `{"colors":{"primary":"#abc"}}`, want: Brand{Primary: "#abc"}},
		{name: "named colour rejected", raw: `{"name":"A","colors":{"primary":"red"}}`, want: Brand{Name: "A"}, wantField: "colors.primary"},
		{name: "css injection rejected", raw: `{"colors":{"primary":"#fff;}body{background:url(x)"}}`, want: Brand{}, wantField: "colors.primary"},
		{name: "bad hex digit", raw: `{"colors":{"primary":"#ggg"}}`, want: Brand{}, wantField: "colors.primary"},
		{name: "control char in name", raw: `{"name":"A\u0000B","colors":{"primary":"#123456"}}`, want: Brand{Primary: "#123456"}, wantField: "name"},
		{name: "too long name", raw: `{"name":"` + strings.Repeat("x", 201) + `"}`, want: Brand{}, wantField: "name"},
		{name: "not an object", raw: `[1]`, want: Brand{}, wantField: "brand_config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBrand(json.RawMessage(tt.raw))
			if got != tt.want {
				t.Errorf("ParseBrand(%q) = %+v, want %+v", tt.raw, got, tt.want)
			}
			var e *whitelabel.Error
			switch {
			case tt.wantField == "" && err != nil:
				t.Errorf("ParseBrand(%q) error = %v, want nil", tt.raw, err)
			case tt.wantField != "" && (!errors.As(err, &e) || e.Code != whitelabel.CodeInvalid || e.Field != tt.wantField):
				t.Errorf("ParseBrand(%q) error = %v, want invalid %s", tt.raw, err, tt.wantField)
			}
		})
	}
}

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
	for k := PageGeneric; k <= PageUpstreamTimeout; k++ {
		var b strings.Builder
		if err := Render(&b, Page{Kind: k, Brand: Brand{Primary: "javascript:x"}}); err != nil {
			t.Fatalf("Render(kind %d): %v", k, err)
		}
		if !strings.Contains(b.String(), "--color-primary: "+DefaultPrimary+";") {
			t.Errorf("Render(kind %d) did not fall back to the default colour", k)
		}
		if k.Status() < 400 {
			t.Errorf("PageKind(%d).Status() = %d", k, k.Status())
		}
	}
}
