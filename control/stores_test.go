package control

import (
	"testing"

	"github.com/estatecore/whitelabel"
)

// backend opens a fresh, migrated store for one test.
type backend struct {
	name string
	open func(t *testing.T) whitelabel.Store
}

func backends() []backend {
	return []backend{
		{"mem", func(t *testing.T) whitelabel.Store { return newMemStore() }},
	}
}

// forEachStore runs fn as a subtest on every store implementation, each
// with a fresh database.
func forEachStore(t *testing.T, fn func(t *testing.T, st whitelabel.Store)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			fn(t, b.open(t))
		})
	}
}
