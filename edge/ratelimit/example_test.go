package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/estatecore/whitelabel/edge/ratelimit"
)

func Example() {
	costs, err := ratelimit.NewCostTable([]ratelimit.CostRule{
		{Method: "POST", PathPattern: "/api/reports/*", Cost: 10},
	})
	if err != nil {
		panic(err)
	}
	lim, err := ratelimit.NewLocal(ratelimit.LocalConfig{})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for range 3 {
		d, _ := lim.Allow(context.Background(), ratelimit.Request{
			TenantID: 42, Rate: 10, Burst: 20, MonthlyLimit: 100_000,
			Cost: costs.Cost("POST", "/api/reports/monthly"), Now: now,
		})
		rec := httptest.NewRecorder()
		ratelimit.SetHeaders(rec.Header(), d, now)
		if !d.Allowed {
			rec.WriteHeader(http.StatusTooManyRequests)
		}
		fmt.Printf("%d %q %s retry=%q\n", rec.Code, d.Code, rec.Header().Get("RateLimit"), rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 "" "default";r=10;t=1, "monthly";r=99990;t=43200 retry=""
	// 200 "" "default";r=0;t=2, "monthly";r=99980;t=43200 retry=""
	// 429 "rate_limited" "default";r=0;t=2, "monthly";r=99980;t=43200 retry="1"
}
