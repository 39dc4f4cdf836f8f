package theming

import (
	"encoding/json"
	"strings"

	"github.com/estatecore/whitelabel"
)

// DefaultPrimary is the primary colour of pages for tenants whose brand
// sets none.
const DefaultPrimary = "#2f5bea"

// maxNameRunes bounds a brand name shown on a page.
const maxNameRunes = 200

// Brand is the validated part of a tenant's BrandConfig that pages use.
// The zero Brand is valid: pages then show no name and DefaultPrimary.
type Brand struct {
	Name    string // display name; no control characters, at most 200 runes
	Primary string // "#rgb" or "#rrggbb", lower-case; "" for the default
}

// brandJSON is the subset of the BrandConfig document this package reads.
// Other members are ignored here (a later issue validates them).
type brandJSON struct {
	Name   *string `json:"name"`
	Colors *struct {
		Primary *string `json:"primary"`
	} `json:"colors"`
}

// ParseBrand reads the name and primary colour from a BrandConfig JSON
// object. Empty input and "null" give the zero Brand. A malformed document
// or an invalid value is a CodeInvalid *whitelabel.Error naming the field;
// the Brand returned alongside still holds every value that was valid, so
// a caller may show a page with what it has.
func ParseBrand(raw json.RawMessage) (Brand, error) {
	var b Brand
	if len(raw) == 0 || string(raw) == "null" {
		return b, nil
	}
	var doc brandJSON
	if err := json.Unmarshal(raw, &doc); err != nil {
		return b, &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: "brand_config", Message: "brand_config must be a JSON object", Err: err}
	}
	var firstErr error
	if doc.Name != nil {
		if err := validateName(*doc.Name); err != nil {
			firstErr = err
		} else {
			b.Name = strings.TrimSpace(*doc.Name)
		}
	}
	if doc.Colors != nil && doc.Colors.Primary != nil {
		c, err := ParseColor("colors.primary", *doc.Colors.Primary)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		b.Primary = c
	}
	return b, firstErr
}

func validateName(s string) error {
	if len([]rune(s)) > maxNameRunes {
		return whitelabel.Invalid("name", "name must be at most %d characters", maxNameRunes)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return whitelabel.Invalid("name", "name must not contain control characters")
		}
	}
	return nil
}

// ParseColor checks a CSS colour written as "#rgb" or "#rrggbb" and
// returns it in lower case. Anything else (names, rgb(), url(), …) is a
// CodeInvalid error for field: only hex is accepted for now, so no value
// can break out of a CSS declaration.
func ParseColor(field, s string) (string, error) {
	if (len(s) != 4 && len(s) != 7) || s[0] != '#' {
		return "", whitelabel.Invalid(field, "%s must be a hex colour like #ff6b35", field)
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", whitelabel.Invalid(field, "%s must be a hex colour like #ff6b35", field)
		}
	}
	return strings.ToLower(s), nil
}
