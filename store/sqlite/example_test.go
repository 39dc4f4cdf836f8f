package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/sqlite"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "whitelabel")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "data", "wl.db"), Migrate: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	t := &whitelabel.Tenant{TenantKey: "acme", DisplayName: "Acme", Subdomain: "acme", Plan: "basic", Status: whitelabel.StatusActive}
	if err := s.CreateTenant(ctx, t, nil); err != nil {
		fmt.Println(err)
		return
	}
	err = s.CreateTenant(ctx, &whitelabel.Tenant{TenantKey: "other", Subdomain: "acme"}, nil)
	v, _ := s.ConfigVersion(ctx)
	fmt.Println(t.ID, t.OrganizationID, t.Version, v)
	fmt.Println(whitelabel.ErrorCodeOf(err))
	// Output:
	// 1 1000 1 1
	// conflict
}
