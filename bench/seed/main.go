// Command seed fills an embedded SQLite store with N active tenants
// (t00000 … tNNNNN) for the proxy benchmark, so the edge under test holds
// a realistic snapshot.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/store/sqlite"
)

func main() {
	path := flag.String("db", "bench.db", "SQLite file")
	n := flag.Int("n", 10000, "number of tenants")
	flag.Parse()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: *path, Migrate: true})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if v, _ := st.ConfigVersion(ctx); v > 0 {
		fmt.Println("already seeded")
		return
	}
	start := time.Now()
	p := &whitelabel.Partner{Name: "Bench", ContactEmail: "bench@example.com", IsActive: true}
	_, key := whitelabel.NewAPIKey(0, time.Now())
	if err := st.CreatePartner(ctx, p, &key, nil); err != nil {
		log.Fatal(err)
	}
	for i := 0; i < *n; i++ {
		name := fmt.Sprintf("t%05d", i)
		t := &whitelabel.Tenant{
			PartnerID: p.ID, TenantKey: name, Subdomain: name, DisplayName: "Tenant " + name,
			ContactEmail: "admin@example.com", Plan: "premium", Status: whitelabel.StatusActive,
			BrandConfig: []byte(`{"name":"Tenant","colors":{"primary":"#ff6b35"}}`),
		}
		if err := st.CreateTenant(ctx, t, nil); err != nil {
			log.Fatalf("tenant %s: %v", name, err)
		}
	}
	fmt.Printf("seeded %d tenants in %s\n", *n, time.Since(start).Round(time.Millisecond))
}
