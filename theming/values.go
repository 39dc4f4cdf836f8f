package theming

import (
	"math"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/image/colornames"

	"github.com/estatecore/whitelabel"
)

// Limits of the value grammars.
const (
	maxValueLen   = 2048 // bytes of any one value
	maxFamilies   = 8    // fonts in one family list
	maxFamilyLen  = 64   // bytes of one font name
	maxLength     = 10000
	maxTextRunes  = 500
	assetPathBase = "/_edge/assets/"
)

// assetExts are the file extensions of our own asset paths, by content
// type. Read only.
var assetExts = map[string]string{
	"image/png":                "png",
	"image/jpeg":               "jpg",
	"image/webp":               "webp",
	"image/vnd.microsoft.icon": "ico",
}

// ParseValue checks s against the grammar of kind and returns its
// canonical form, which is rebuilt from the parsed parts rather than
// copied, so what reaches CSS is only what the grammar produces. An
// invalid value is a CodeInvalid error naming field.
func ParseValue(kind valueKind, field, s string) (string, error) {
	if len(s) > maxValueLen {
		return "", whitelabel.Invalid(field, "%s is longer than %d bytes", field, maxValueLen)
	}
	s = strings.TrimSpace(s)
	switch kind {
	case kindColor:
		return ParseColor(field, s)
	case kindLength:
		if v, ok := parseLength(s); ok {
			return v, nil
		}
		return "", whitelabel.Invalid(field, "%s must be a length like 1rem, 12px or 50%%", field)
	case kindFontFamily:
		return parseFontFamily(field, s)
	case kindFontWeight:
		switch s = strings.ToLower(s); s {
		case "normal", "bold", "100", "200", "300", "400", "500", "600", "700", "800", "900":
			return s, nil
		}
		return "", whitelabel.Invalid(field, "%s must be 100–900 in steps of 100, normal or bold", field)
	case kindLineHeight:
		if n, ok := parseNumber(s); ok && n >= 0.5 && n <= 5 {
			return formatNumber(n), nil
		}
		if v, ok := parseLength(s); ok {
			return v, nil
		}
		return "", whitelabel.Invalid(field, "%s must be a number from 0.5 to 5 or a length", field)
	case kindURL:
		return parseURL(field, s)
	case kindText:
		if len([]rune(s)) > maxTextRunes || hasControl(s) {
			return "", whitelabel.Invalid(field, "%s must be at most %d characters without control characters", field, maxTextRunes)
		}
		return s, nil
	case kindEmail:
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || a.Address != s || hasControl(s) || strings.ContainsAny(s, "<>\"\\") {
			return "", whitelabel.Invalid(field, "%s must be an e-mail address", field)
		}
		return s, nil
	}
	return "", whitelabel.Invalid(field, "%s has an unknown kind", field)
}

// ParseColor checks a CSS colour and returns its canonical form: "#rgb",
// "#rgba", "#rrggbb" or "#rrggbbaa" in lower case; rgb()/rgba() and
// hsl()/hsla() with comma- or space-separated numbers (rebuilt as
// "rgb(1, 2, 3)" or "rgba(1, 2, 3, 0.5)", likewise hsl); or a CSS named
// colour (lower case). Anything else is a CodeInvalid error for field.
func ParseColor(field, s string) (string, error) {
	c, _, ok := parseColor(s)
	if !ok {
		return "", whitelabel.Invalid(field, "%s must be a colour: #ff6b35, rgb(255, 107, 53), hsl(16, 100%%, 60%%) or a colour name", field)
	}
	return c, nil
}

// rgb is a colour's red, green and blue in 0–1, for contrast.
type rgb struct{ r, g, b float64 }

// parseColor returns the canonical form of s and its RGB value.
func parseColor(s string) (string, rgb, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > 64 {
		return "", rgb{}, false
	}
	if s[0] == '#' {
		h := s[1:]
		switch len(h) {
		case 3, 4, 6, 8:
		default:
			return "", rgb{}, false
		}
		for i := 0; i < len(h); i++ {
			if !isHex(h[i]) {
				return "", rgb{}, false
			}
		}
		var c rgb
		if len(h) <= 4 {
			c = rgb{hexVal(h[0]) * 17 / 255, hexVal(h[1]) * 17 / 255, hexVal(h[2]) * 17 / 255}
		} else {
			c = rgb{(hexVal(h[0])*16 + hexVal(h[1])) / 255, (hexVal(h[2])*16 + hexVal(h[3])) / 255, (hexVal(h[4])*16 + hexVal(h[5])) / 255}
		}
		return s, c, true
	}
	if open := strings.IndexByte(s, '('); open > 0 {
		if !strings.HasSuffix(s, ")") {
			return "", rgb{}, false
		}
		fn, args := s[:open], s[open+1:len(s)-1]
		switch fn {
		case "rgb", "rgba", "hsl", "hsla":
		default:
			return "", rgb{}, false
		}
		parts, ok := splitArgs(args)
		if !ok || (len(parts) != 3 && len(parts) != 4) {
			return "", rgb{}, false
		}
		var n [4]float64
		var pct [4]bool
		for i, p := range parts {
			if i == 0 && fn[0] == 'h' {
				p = strings.TrimSuffix(p, "deg")
			}
			if strings.HasSuffix(p, "%") {
				pct[i] = true
				p = p[:len(p)-1]
			}
			v, ok := parseNumber(p)
			if !ok {
				return "", rgb{}, false
			}
			n[i] = v
		}
		alpha := ""
		if len(parts) == 4 {
			a := n[3]
			if pct[3] {
				a /= 100
			}
			if a < 0 || a > 1 {
				return "", rgb{}, false
			}
			alpha = ", " + formatNumber(a)
		}
		name := fn[:3]
		if alpha != "" {
			name += "a"
		}
		if fn[0] == 'r' {
			var c [3]float64
			for i := range 3 {
				v := n[i]
				if pct[i] {
					v = v * 255 / 100
				}
				if v < 0 || v > 255 {
					return "", rgb{}, false
				}
				c[i] = v
			}
			return name + "(" + formatNumber(c[0]) + ", " + formatNumber(c[1]) + ", " + formatNumber(c[2]) + alpha + ")",
				rgb{c[0] / 255, c[1] / 255, c[2] / 255}, true
		}
		h, sat, l := n[0], n[1], n[2]
		if pct[0] || !pct[1] || !pct[2] || h < -3600 || h > 3600 || sat < 0 || sat > 100 || l < 0 || l > 100 {
			return "", rgb{}, false
		}
		return name + "(" + formatNumber(h) + ", " + formatNumber(sat) + "%, " + formatNumber(l) + "%" + alpha + ")",
			hslToRGB(h, sat/100, l/100), true
	}
	switch s {
	case "transparent":
		return s, rgb{1, 1, 1}, true
	case "rebeccapurple": // CSS Color 4; not in the SVG list colornames has
		return s, rgb{0x66 / 255.0, 0x33 / 255.0, 0x99 / 255.0}, true
	}
	if c, ok := colornames.Map[s]; ok {
		return s, rgb{float64(c.R) / 255, float64(c.G) / 255, float64(c.B) / 255}, true
	}
	return "", rgb{}, false
}

// splitArgs splits a colour function's arguments on commas, or on spaces
// with an optional "/ alpha". Every part must be non-empty.
func splitArgs(args string) ([]string, bool) {
	var parts []string
	if strings.Contains(args, ",") {
		parts = strings.Split(args, ",")
	} else {
		main, alpha, slash := strings.Cut(args, "/")
		parts = strings.Fields(main)
		if slash {
			parts = append(parts, alpha)
		}
	}
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" {
			return nil, false
		}
	}
	return parts, true
}

func hslToRGB(h, s, l float64) rgb {
	h = math.Mod(math.Mod(h, 360)+360, 360) / 360
	if s == 0 {
		return rgb{l, l, l}
	}
	q := l + s - l*s
	if l < 0.5 {
		q = l * (1 + s)
	}
	p := 2*l - q
	hue := func(t float64) float64 {
		t = math.Mod(t+1, 1)
		switch {
		case t < 1.0/6:
			return p + (q-p)*6*t
		case t < 0.5:
			return q
		case t < 2.0/3:
			return p + (q-p)*(2.0/3-t)*6
		}
		return p
	}
	return rgb{hue(h + 1.0/3), hue(h), hue(h - 1.0/3)}
}

// luminance is the WCAG relative luminance of c.
func (c rgb) luminance() float64 {
	lin := func(v float64) float64 {
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

// contrastText returns the text colour readable on background colour c:
// white or near-black, whichever has the higher WCAG contrast.
func contrastText(c string) string {
	_, v, ok := parseColor(c)
	if !ok {
		return "#ffffff"
	}
	l := v.luminance()
	if (l+0.05)/0.05 > 1.05/(l+0.05) {
		return "#1f2330"
	}
	return "#ffffff"
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func hexVal(c byte) float64 {
	if c <= '9' {
		return float64(c - '0')
	}
	return float64(c-'a') + 10
}

// parseNumber accepts a plain decimal number: optional sign, digits with
// an optional fraction (no exponent, no hex, no NaN or Inf).
func parseNumber(s string) (float64, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		case (c == '-' || c == '+') && i == 0:
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// formatNumber writes n without an exponent and with at most four
// decimals.
func formatNumber(n float64) string {
	n = math.Round(n*10000) / 10000
	if n == 0 {
		n = 0 // no "-0"
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}

var lengthUnits = []string{"px", "rem", "em", "%", "vw", "vh", "ch", "pt"}

// parseLength accepts 0 or a non-negative number with a unit.
func parseLength(s string) (string, bool) {
	s = strings.ToLower(s)
	if s == "0" {
		return "0", true
	}
	for _, u := range lengthUnits {
		if num, ok := strings.CutSuffix(s, u); ok {
			n, ok := parseNumber(num)
			if !ok || n < 0 || n > maxLength || num[0] == '+' {
				return "", false
			}
			return formatNumber(n) + u, true
		}
	}
	return "", false
}

// genericFamilies are the CSS generic font families, written bare.
var genericFamilies = map[string]bool{
	"serif": true, "sans-serif": true, "monospace": true, "cursive": true, "fantasy": true,
	"system-ui": true, "ui-serif": true, "ui-sans-serif": true, "ui-monospace": true, "ui-rounded": true,
	"emoji": true, "math": true, "fangsong": true, "-apple-system": true, "blinkmacsystemfont": true,
}

// cssWideKeywords may not be font names unquoted.
var cssWideKeywords = map[string]bool{"inherit": true, "initial": true, "unset": true, "revert": true, "revert-layer": true, "default": true}

// parseFontFamily accepts a comma-separated list of font names: quoted
// ('Inter' or "Inter", letters, digits, spaces, '-', '_' and '.'),
// unquoted words, or generic families. Names come back single-quoted,
// generic families bare: "'Roboto', sans-serif".
func parseFontFamily(field, s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", whitelabel.Invalid(field, "%s must be a list of font names like 'Inter', sans-serif (%s)", field, why)
	}
	items := strings.Split(s, ",")
	if len(items) > maxFamilies {
		return bad("too many fonts")
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			return bad("empty name")
		}
		if q := it[0]; q == '\'' || q == '"' {
			if len(it) < 3 || it[len(it)-1] != q {
				return bad("unbalanced quotes")
			}
			name := strings.TrimSpace(it[1 : len(it)-1])
			if name == "" || len(name) > maxFamilyLen || !familyChars(name, true) {
				return bad("quoted names may hold letters, digits, spaces, '-', '_' and '.'")
			}
			out = append(out, "'"+strings.Join(strings.Fields(name), " ")+"'")
			continue
		}
		if len(it) > maxFamilyLen || !familyChars(it, false) {
			return bad("unquoted names may hold letters, digits, spaces and '-'")
		}
		lower := strings.ToLower(it)
		if genericFamilies[lower] {
			if lower == "blinkmacsystemfont" {
				lower = "BlinkMacSystemFont"
			}
			out = append(out, lower)
			continue
		}
		words := strings.Fields(it)
		for _, w := range words {
			if c := w[0]; (c >= '0' && c <= '9') || (c == '-' && (len(w) < 2 || w[1] == '-' || (w[1] >= '0' && w[1] <= '9'))) {
				return bad("an unquoted word may not start with a digit or --")
			}
			if cssWideKeywords[strings.ToLower(w)] && len(words) == 1 {
				return bad(w + " is a keyword; quote it")
			}
		}
		out = append(out, "'"+strings.Join(words, " ")+"'")
	}
	return strings.Join(out, ", "), nil
}

func familyChars(s string, quoted bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == ' ', c == '-':
		case quoted && (c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// urlSafe is every byte an accepted URL may hold: unreserved and
// reserved characters except quotes, parentheses, '*', ';', '\\', '<', '>',
// braces and whitespace, which could end a url("…") or a declaration.
func urlSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&+,=%", c) >= 0
}

// parseURL accepts an https URL with a host (no user info) or one of our
// own asset paths (/_edge/assets/<sha256>.<ext>).
func parseURL(field, s string) (string, error) {
	if id, ok := AssetID(s); ok {
		return id, nil
	}
	bad := func() (string, error) {
		return "", whitelabel.Invalid(field, "%s must be an https URL or an uploaded asset (/_edge/assets/<sha256>.<ext>)", field)
	}
	for i := 0; i < len(s); i++ {
		if !urlSafe(s[i]) {
			return bad()
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(s, "https://") {
		return bad()
	}
	return s, nil
}

// AssetID reports whether s is one of our asset paths,
// "/_edge/assets/<64 lower-case hex>.<png|jpg|webp|ico>", and returns it.
func AssetID(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, assetPathBase)
	if !ok || len(rest) < 66 || rest[64] != '.' {
		return "", false
	}
	for i := range 64 {
		if !isHex(rest[i]) {
			return "", false
		}
	}
	switch rest[65:] {
	case "png", "jpg", "webp", "ico":
		return s, true
	}
	return "", false
}

// AssetExt returns the file extension (without the dot) of asset paths
// for contentType, or "" for a content type assets may not have.
func AssetExt(contentType string) string { return assetExts[contentType] }

// AssetPath returns the path the edge serves an asset at.
func AssetPath(sha256Hex, contentType string) string {
	return assetPathBase + sha256Hex + "." + assetExts[contentType]
}
