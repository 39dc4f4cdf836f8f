package theming

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/estatecore/whitelabel"
)

// DefaultPrimary is the primary colour of pages for tenants whose brand
// sets none.
const DefaultPrimary = "#2f5bea"

// maxNameRunes bounds a brand name shown on a page.
const maxNameRunes = 200

// valueKind is the grammar a brand field's value must match.
type valueKind uint8

const (
	kindColor      valueKind = iota // hex, rgb()/rgba(), hsl()/hsla(), or a CSS named colour
	kindLength                      // 0 or a non-negative number with a unit (px, rem, em, %, vw, vh, ch, pt)
	kindFontFamily                  // comma-separated quoted names, plain names and generic families
	kindFontWeight                  // 100–900 in steps of 100, normal, bold
	kindLineHeight                  // a unitless number 0.5–5 or a length
	kindURL                         // https URL or one of our own asset paths
	kindText                        // plain text for e-mails and pages; never reaches CSS
	kindEmail                       // an e-mail address; never reaches CSS
)

// field is one value of the brand config: where it sits in the JSON
// document, its grammar, the CSS custom property it becomes ("" for
// values that never reach CSS) and its default ("" for none).
type field struct {
	group, key string
	kind       valueKind
	cssVar     string
	def        string
}

// path is the field's name in errors and in Effective: "colors.primary".
func (f field) path() string { return f.group + "." + f.key }

// fields is the whole brand grammar, in the order the theme CSS lists
// the custom properties. Adding a value means adding a row here.
var fields = []field{
	{"colors", "primary", kindColor, "--color-primary", DefaultPrimary},
	{"colors", "secondary", kindColor, "--color-secondary", "#6c757d"},
	{"colors", "success", kindColor, "--color-success", "#28a745"},
	{"colors", "danger", kindColor, "--color-danger", "#dc3545"},
	{"colors", "warning", kindColor, "--color-warning", "#ffc107"},
	{"colors", "info", kindColor, "--color-info", "#17a2b8"},
	{"colors", "light", kindColor, "--color-light", "#f8f9fa"},
	{"colors", "dark", kindColor, "--color-dark", "#1f2330"},
	{"colors", "background", kindColor, "--color-background", "#ffffff"},
	{"colors", "surface", kindColor, "--color-surface", "#f6f7f9"},
	{"colors", "text", kindColor, "--color-text", "#1f2330"},
	{"colors", "text_muted", kindColor, "--color-text-muted", "#6b7080"},
	{"colors", "link", kindColor, "--color-link", ""}, // default: the primary colour
	{"colors", "border", kindColor, "--color-border", "#dde1e8"},
	{"typography", "font_family_primary", kindFontFamily, "--font-family-primary", `system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif`},
	{"typography", "font_family_heading", kindFontFamily, "--font-family-heading", `system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif`},
	{"typography", "font_family_monospace", kindFontFamily, "--font-family-monospace", `ui-monospace, Menlo, Consolas, monospace`},
	{"typography", "font_size_base", kindLength, "--font-size-base", "1rem"},
	{"typography", "font_size_small", kindLength, "--font-size-small", "0.875rem"},
	{"typography", "font_size_large", kindLength, "--font-size-large", "1.25rem"},
	{"typography", "font_weight_normal", kindFontWeight, "--font-weight-normal", "400"},
	{"typography", "font_weight_bold", kindFontWeight, "--font-weight-bold", "600"},
	{"typography", "line_height_base", kindLineHeight, "--line-height-base", "1.5"},
	{"layout", "border_radius", kindLength, "--border-radius", "0.375rem"},
	{"layout", "container_max_width", kindLength, "--container-max-width", "1200px"},
	{"layout", "spacing_unit", kindLength, "--spacing-unit", "1rem"},
	{"layout", "header_height", kindLength, "--header-height", "4rem"},
	{"layout", "sidebar_width", kindLength, "--sidebar-width", "16rem"},
	{"logo", "primary", kindURL, "--logo-url", ""},
	{"logo", "favicon", kindURL, "", ""},
	{"logo", "background", kindURL, "--background-image", ""},
	{"email", "from_name", kindText, "", ""},
	{"email", "footer", kindText, "", ""},
	{"email", "support_email", kindEmail, "", ""},
}

// numFields sizes Brand's value array; init checks it matches fields.
const numFields = 34

// fieldIndex maps "group.key" to its index in fields.
var fieldIndex = func() map[string]int {
	if len(fields) != numFields {
		panic("theming: numFields does not match fields")
	}
	m := make(map[string]int, len(fields))
	for i, f := range fields {
		m[f.path()] = i
	}
	return m
}()

// groups are the brand config's objects and the keys each may hold.
var groups = func() map[string][]string {
	m := map[string][]string{}
	for _, f := range fields {
		m[f.group] = append(m[f.group], f.key)
	}
	return m
}()

// topLevel are the keys a brand config object may have.
var topLevel = []string{"colors", "email", "favicon", "inject", "layout", "logo", "name", "typography"}

// Brand is a tenant's validated brand: the values its BrandConfig sets,
// in canonical form. The zero Brand is valid and means every default.
// Brand is comparable, and small enough to copy.
type Brand struct {
	Name     string // display name; no control characters, at most 200 runes
	Primary  string // colors.primary as set (canonical), "" when unset
	NoInject bool   // "inject": false: do not add the theme to proxied pages

	vals [numFields]string // overrides by fields index; "" when unset
}

// Value returns the value the brand sets for path ("colors.primary"), or
// "" when it sets none or path is not a brand field.
func (b Brand) Value(path string) string {
	if i, ok := fieldIndex[path]; ok {
		return b.vals[i]
	}
	return ""
}

// Effective returns the value of path with the default applied: what
// the theme uses.
func (b Brand) Effective(path string) string {
	i, ok := fieldIndex[path]
	if !ok {
		return ""
	}
	return b.effective(i)
}

func (b Brand) effective(i int) string {
	if v := b.vals[i]; v != "" {
		return v
	}
	if fields[i].path() == "colors.link" {
		return b.effective(fieldIndex["colors.primary"])
	}
	return fields[i].def
}

// Inject reports whether the theme is added to the tenant's proxied
// HTML pages (the default; "inject": false turns it off).
func (b Brand) Inject() bool { return !b.NoInject }

// Effective returns b as a complete brand config document: every field
// with its default applied, plus name and inject. Fields without a value
// or default (logo, e-mail) are left out.
func (b Brand) EffectiveConfig() map[string]any {
	out := map[string]any{"inject": b.Inject()}
	if b.Name != "" {
		out["name"] = b.Name
	}
	for i, f := range fields {
		v := b.effective(i)
		if v == "" {
			continue
		}
		g, _ := out[f.group].(map[string]any)
		if g == nil {
			g = map[string]any{}
			out[f.group] = g
		}
		g[f.key] = v
	}
	for g := range groups {
		if _, ok := out[g]; !ok {
			out[g] = map[string]any{}
		}
	}
	return out
}

// ParseBrand validates a BrandConfig JSON object against the brand
// grammar (see fields): known keys only, each value matching its kind.
// Empty input and "null" give the zero Brand.
//
// A malformed document or an invalid value is a CodeInvalid
// *whitelabel.Error whose Field names the value ("colors.primary",
// "typography.font_family_primary"; "brand_config" when the document is
// not an object). Values that could leave a CSS declaration (";", "}",
// "<", "\\", quotes in the wrong place, url() of another scheme,
// expression(), @import, comments) never match a grammar, so they are
// always rejected. The Brand returned alongside an error still holds
// every valid value, so a caller may show a page with what it has.
func ParseBrand(raw json.RawMessage) (Brand, error) {
	var b Brand
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return b, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
		return b, &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: "brand_config", Message: "brand_config must be a JSON object", Err: err}
	}
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		v := doc[k]
		switch k {
		case "name":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				fail(whitelabel.Invalid("name", "name must be a string"))
			} else if err := validateName(s); err != nil {
				fail(err)
			} else {
				b.Name = strings.TrimSpace(s)
			}
		case "inject":
			var on bool
			if err := json.Unmarshal(v, &on); err != nil {
				fail(whitelabel.Invalid("inject", "inject must be true or false"))
			} else {
				b.NoInject = !on
			}
		case "favicon": // the seed's top-level alias of logo.favicon
			if err := b.set("logo.favicon", "favicon", v); err != nil {
				fail(err)
			}
		default:
			keys, ok := groups[k]
			if !ok {
				f := k
				if f == "" || len(f) > 64 {
					f = "brand_config"
				}
				fail(whitelabel.Invalid(f, "unknown brand config key %q (allowed: %s)", k, strings.Join(topLevel, ", ")))
				continue
			}
			if string(bytes.TrimSpace(v)) == "null" {
				continue // a merge patch's "reset the group"
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
				fail(whitelabel.Invalid(k, "%s must be an object", k))
				continue
			}
			for _, sub := range slices.Sorted(maps.Keys(obj)) {
				p := k + "." + sub
				if _, ok := fieldIndex[p]; !ok {
					fail(whitelabel.Invalid(p, "unknown key %q in %s (allowed: %s)", sub, k, strings.Join(keys, ", ")))
					continue
				}
				if err := b.set(p, p, obj[sub]); err != nil {
					fail(err)
				}
			}
		}
	}
	b.Primary = b.Value("colors.primary")
	return b, firstErr
}

// set validates raw (a JSON value) for the field at path and stores its
// canonical form; name is the field named in errors. JSON null leaves
// the field unset.
func (b *Brand) set(path, name string, raw json.RawMessage) error {
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	i := fieldIndex[path]
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return whitelabel.Invalid(name, "%s must be a string", name)
	}
	v, err := ParseValue(fields[i].kind, name, s)
	if err != nil {
		return err
	}
	if path == "logo.favicon" && b.vals[i] != "" && name == "favicon" {
		return nil // logo.favicon wins over the alias
	}
	b.vals[i] = v
	return nil
}

func validateName(s string) error {
	if len([]rune(s)) > maxNameRunes {
		return whitelabel.Invalid("name", "name must be at most %d characters", maxNameRunes)
	}
	if hasControl(s) {
		return whitelabel.Invalid("name", "name must not contain control characters")
	}
	return nil
}

// hasControl reports whether s holds a C0 or C1 control character, DEL
// or a line/paragraph separator.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

// MergeBrandConfig applies patch to base as a JSON Merge Patch (RFC
// 7396): objects merge key by key, null removes a key, anything else
// replaces it. Both must be JSON objects (base may be empty). The result
// is compact JSON with sorted keys and no nulls. It does not validate;
// call ParseBrand on the result.
func MergeBrandConfig(base, patch json.RawMessage) (json.RawMessage, error) {
	var b, p map[string]any
	if len(bytes.TrimSpace(base)) > 0 {
		if err := json.Unmarshal(base, &b); err != nil {
			return nil, whitelabel.Invalid("brand_config", "stored brand config is not a JSON object")
		}
	}
	if err := json.Unmarshal(patch, &p); err != nil || p == nil {
		return nil, &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: "brand_config", Message: "brand config must be a JSON object", Err: err}
	}
	if b == nil {
		b = map[string]any{}
	}
	out, err := json.Marshal(mergePatch(b, p))
	if err != nil {
		return nil, err
	}
	return out, nil
}

func mergePatch(dst, patch map[string]any) map[string]any {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			d, _ := dst[k].(map[string]any)
			if d == nil {
				d = map[string]any{}
			}
			m := mergePatch(d, pv)
			if len(m) == 0 {
				delete(dst, k)
			} else {
				dst[k] = m
			}
		default:
			dst[k] = v
		}
	}
	return dst
}
