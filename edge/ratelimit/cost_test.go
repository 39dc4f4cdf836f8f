package ratelimit

import (
	"testing"

	"github.com/estatecore/whitelabel"
)

func TestCostTable(t *testing.T) {
	ct, err := NewCostTable([]CostRule{
		{Method: "POST", PathPattern: "/api/reports/*", Cost: 10},
		{Method: "GET", PathPattern: "/api/exports/{id}/download", Cost: 5},
		{PathPattern: "/api/bulk/", Cost: 20},
		{PathPattern: "/api/search", Cost: 3},
		{PathPattern: "/api/*/heavy", Cost: 7},
		{PathPattern: "/files/{path...}", Cost: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"glob subtree", "POST", "/api/reports/monthly", 10},
		{"glob subtree deeper", "POST", "/api/reports/2026/11/pdf", 10},
		{"glob subtree root", "POST", "/api/reports/", 10},
		{"glob without slash is not the subtree", "POST", "/api/reports", 1},
		{"method mismatch", "GET", "/api/reports/monthly", 1},
		{"named wildcard", "GET", "/api/exports/17/download", 5},
		{"GET rule matches HEAD", "HEAD", "/api/exports/17/download", 5},
		{"named wildcard needs a segment", "GET", "/api/exports//download", 1},
		{"trailing slash subtree", "DELETE", "/api/bulk/x/y", 20},
		{"exact", "GET", "/api/search", 3},
		{"exact does not match below", "GET", "/api/search/more", 1},
		{"exact does not match trailing slash", "GET", "/api/search/", 1},
		{"middle star", "PUT", "/api/things/heavy", 7},
		{"middle star one segment only", "PUT", "/api/a/b/heavy", 1},
		{"rest wildcard", "GET", "/files/a/b/c.txt", 2},
		{"unclean path is cleaned", "POST", "/api//reports/../reports/x", 10},
		{"dot segments cannot dodge", "GET", "/api/./search", 3},
		{"no match", "GET", "/", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ct.Cost(tt.method, tt.path); got != tt.want {
				t.Errorf("Cost(%q, %q) = %d, want %d", tt.method, tt.path, got, tt.want)
			}
		})
	}
	t.Run("first rule wins", func(t *testing.T) {
		ct, err := NewCostTable([]CostRule{{PathPattern: "/a/b", Cost: 4}, {PathPattern: "/a/*", Cost: 9}})
		if err != nil {
			t.Fatal(err)
		}
		if got := ct.Cost("GET", "/a/b"); got != 4 {
			t.Errorf("Cost(/a/b) = %d, want 4", got)
		}
	})
	t.Run("nil table", func(t *testing.T) {
		var ct *CostTable
		if got := ct.Cost("GET", "/x"); got != 1 {
			t.Errorf("nil Cost = %d, want 1", got)
		}
	})
}

func TestNewCostTableInvalid(t *testing.T) {
	tests := []struct {
		name string
		rule CostRule
	}{
		{"zero cost", CostRule{PathPattern: "/a", Cost: 0}},
		{"relative path", CostRule{PathPattern: "a/b", Cost: 2}},
		{"partial glob", CostRule{PathPattern: "/api/rep*", Cost: 2}},
		{"rest wildcard not last", CostRule{PathPattern: "/api/{rest...}/x", Cost: 2}},
		{"empty wildcard name", CostRule{PathPattern: "/api/{}", Cost: 2}},
		{"empty segment", CostRule{PathPattern: "/api//x", Cost: 2}},
		{"dot segment", CostRule{PathPattern: "/api/../x", Cost: 2}},
		{"lower-case method", CostRule{Method: "post", PathPattern: "/a", Cost: 2}},
		{"method in the pattern", CostRule{PathPattern: "POST /a", Cost: 2}},
		{"query", CostRule{PathPattern: "/a?x=1", Cost: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCostTable([]CostRule{tt.rule}); whitelabel.ErrorCodeOf(err) != whitelabel.CodeInvalid {
				t.Errorf("NewCostTable(%+v) error = %v, want %s", tt.rule, err, whitelabel.CodeInvalid)
			}
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		_, err := NewCostTable([]CostRule{{PathPattern: "/a/*", Cost: 2}, {PathPattern: "/a/{x...}", Cost: 3}})
		if whitelabel.ErrorCodeOf(err) != whitelabel.CodeInvalid {
			t.Errorf("duplicate rules: error = %v, want %s", err, whitelabel.CodeInvalid)
		}
	})
}
