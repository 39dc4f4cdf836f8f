package ratelimit

import (
	"fmt"
	"path"
	"strings"

	"github.com/estatecore/whitelabel"
)

// CostRule gives the cost of the requests matching a method and a path
// pattern (report generation might cost 10).
type CostRule struct {
	// Method is an upper-case HTTP method; empty matches any. GET also
	// matches HEAD, as in net/http.ServeMux.
	Method string
	// PathPattern is matched segment by segment against the request's
	// decoded path:
	//   - a literal segment matches itself;
	//   - "*" or "{name}" matches exactly one segment;
	//   - as the last segment, "*" or "{name...}" matches the rest of the
	//     path, including nothing; a trailing slash does the same
	//     (ServeMux's subtree), so "/api/reports/", "/api/reports/*" and
	//     "/api/reports/{rest...}" are equivalent.
	// Partial wildcards ("rep*") are rejected.
	PathPattern string
	// Cost is the number of rate and monthly units a matching request
	// uses; at least 1.
	Cost int
}

// CostTable finds a request's cost from ordered [CostRule]s: the first
// matching rule wins, and a request matching none costs 1. A nil
// *CostTable costs 1 for everything. It is immutable and safe for
// concurrent use.
type CostTable struct {
	rules []costRule
}

type segKind uint8

const (
	segLiteral segKind = iota
	segOne
	segRest
)

type segment struct {
	kind segKind
	lit  string
}

type costRule struct {
	method string
	segs   []segment
	cost   int
}

// NewCostTable validates and compiles rules. It returns a
// whitelabel.CodeInvalid error naming the first bad rule.
func NewCostTable(rules []CostRule) (*CostTable, error) {
	t := &CostTable{}
	seen := make(map[string]bool)
	for i, r := range rules {
		field := fmt.Sprintf("cost_rules[%d]", i)
		if r.Cost < 1 {
			return nil, whitelabel.Invalid(field+".cost", "cost must be at least 1")
		}
		if !validMethod(r.Method) {
			return nil, whitelabel.Invalid(field+".method", "%q is not an upper-case HTTP method", r.Method)
		}
		segs, err := compilePattern(r.PathPattern)
		if err != nil {
			return nil, whitelabel.Invalid(field+".path", "%s", err)
		}
		key := r.Method + " " + canonicalPattern(segs)
		if seen[key] {
			return nil, whitelabel.Invalid(field+".path", "%s %s repeats an earlier rule", r.Method, r.PathPattern)
		}
		seen[key] = true
		t.rules = append(t.rules, costRule{method: r.Method, segs: segs, cost: r.Cost})
	}
	return t, nil
}

func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

func compilePattern(p string) ([]segment, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path pattern %q must start with /", p)
	}
	if strings.ContainsAny(p, " \t?#") {
		return nil, fmt.Errorf("path pattern %q must be a path only", p)
	}
	parts := strings.Split(p[1:], "/")
	var segs []segment
	for i, s := range parts {
		last := i == len(parts)-1
		switch {
		case s == "" && last:
			segs = append(segs, segment{kind: segRest})
		case s == "":
			return nil, fmt.Errorf("path pattern %q has an empty segment", p)
		case s == "*" && last, strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}") && last:
			if s != "*" && !validName(s[1:len(s)-4]) {
				return nil, fmt.Errorf("path pattern %q: bad wildcard %q", p, s)
			}
			segs = append(segs, segment{kind: segRest})
		case s == "*":
			segs = append(segs, segment{kind: segOne})
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			if !validName(s[1 : len(s)-1]) {
				return nil, fmt.Errorf("path pattern %q: bad wildcard %q (a {name...} wildcard must be last)", p, s)
			}
			segs = append(segs, segment{kind: segOne})
		case strings.ContainsAny(s, "*{}"):
			return nil, fmt.Errorf("path pattern %q: wildcards must be whole segments", p)
		case s == "." || s == "..":
			return nil, fmt.Errorf("path pattern %q must be clean", p)
		default:
			segs = append(segs, segment{kind: segLiteral, lit: s})
		}
	}
	return segs, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func canonicalPattern(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.lit)
		case segOne:
			b.WriteString("{}")
		case segRest:
			b.WriteString("{...}")
		}
	}
	return b.String()
}

// Cost returns the cost of a request with method and decoded path
// (r.URL.Path). An unclean path ("//", "/./", "/../") is cleaned first,
// so it cannot dodge a rule.
func (t *CostTable) Cost(method, p string) int {
	if t == nil || len(t.rules) == 0 {
		return 1
	}
	if !isClean(p) {
		trailing := strings.HasSuffix(p, "/")
		p = path.Clean("/" + p)
		if trailing && p != "/" {
			p += "/"
		}
	}
	for i := range t.rules {
		r := &t.rules[i]
		if r.method != "" && r.method != method && !(r.method == "GET" && method == "HEAD") {
			continue
		}
		if matchPath(r.segs, p) {
			return r.cost
		}
	}
	return 1
}

func isClean(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	return !strings.Contains(p, "//") && !strings.Contains(p, "/./") && !strings.Contains(p, "/../") &&
		!strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

// matchPath matches a clean path against segs without allocating.
func matchPath(segs []segment, p string) bool {
	rest := p[1:] // after the leading slash
	for i, s := range segs {
		if s.kind == segRest {
			return true
		}
		seg, after, more := strings.Cut(rest, "/")
		if seg == "" && !more {
			// The path ended ("/a" against "/a/b") or ends in a slash
			// where the pattern wants a segment.
			return false
		}
		if s.kind == segLiteral && seg != s.lit {
			return false
		}
		if !more {
			return i == len(segs)-1
		}
		rest = after
		if i == len(segs)-1 {
			return false // the path goes on
		}
	}
	return false
}
