// Command seed fills an embedded SQLite store with N active tenants
// (t00000 … tNNNNN) for the proxy benchmark, so the edge under test holds
// a realistic snapshot. Their rate, monthly API and bandwidth quotas are
// set so high that the benchmark is never refused: the edge still decides
// and meters every request (the cost measured), but wrk sees only 200s.
// Two more tenants are the baselines of that cost: nolimit, without rate,
// monthly or bandwidth quota (no decision, no bytes counted), and
// noinject, whose brand turns theme injection off.
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
	unrefused := whitelabel.Quotas{
		whitelabel.QuotaRequestsPerSecond: 1_000_000_000, whitelabel.QuotaRequestsBurst: 1_000_000_000,
		whitelabel.QuotaAPICallsMonthly: 1 << 50, whitelabel.QuotaBandwidthGBMonthly: 1 << 30,
	}
	unlimited := whitelabel.Quotas{whitelabel.QuotaRequestsPerSecond: 0, whitelabel.QuotaAPICallsMonthly: 0, whitelabel.QuotaBandwidthGBMonthly: 0}
	brand := `{"name":"Tenant","colors":{"primary":"#ff6b35"}}`
	create := func(name string, quotas whitelabel.Quotas, brand string) {
		t := &whitelabel.Tenant{
			PartnerID: p.ID, TenantKey: name, Subdomain: name, DisplayName: "Tenant " + name,
			ContactEmail: "admin@example.com", Plan: "premium", Status: whitelabel.StatusActive,
			BrandConfig: []byte(brand), ResourceQuotas: quotas,
		}
		if err := st.CreateTenant(ctx, t, nil); err != nil {
			log.Fatalf("tenant %s: %v", name, err)
		}
	}
	for i := 0; i < *n; i++ {
		create(fmt.Sprintf("t%05d", i), unrefused, brand)
	}
	create("nolimit", unlimited, brand)
	create("noinject", unrefused, `{"name":"Tenant","colors":{"primary":"#ff6b35"},"inject":false}`)
	fmt.Printf("seeded %d tenants in %s\n", *n, time.Since(start).Round(time.Millisecond))
}
