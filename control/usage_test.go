package control

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func TestUsage(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("usagep")
		other := e.createPartner("usageo")
		tid := idOf(e.createTenant(p, "metered", nil))
		day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
		lat := func(i int, n int64) []int64 {
			h := make([]int64, whitelabel.UsageLatencyBuckets)
			h[i] = n
			return h
		}
		recs := []whitelabel.UsageRecord{
			{EdgeID: "a", TenantID: tid, Minute: day.Add(10 * time.Hour), Requests: 100, UpstreamErrors: 2, BytesIn: 1000, BytesOut: 5000, Latency: lat(6, 100)},
			{EdgeID: "b", TenantID: tid, Minute: day.Add(10 * time.Hour), Requests: 100, BytesIn: 1000, BytesOut: 5000, Latency: lat(12, 100)},
			{EdgeID: "a", TenantID: tid, Minute: day.Add(12*time.Hour + 30*time.Minute), Requests: 7, Latency: lat(0, 7)},
		}
		if err := st.(whitelabel.UsageStore).WriteUsage(t.Context(), recs); err != nil {
			t.Fatal(err)
		}
		query := func(from, to, gran string) string {
			v := url.Values{"from": {from}, "to": {to}}
			if gran != "" {
				v.Set("granularity", gran)
			}
			return tenantPath(tid, "usage") + "?" + v.Encode()
		}
		var got struct {
			Granularity string
			Buckets     []struct {
				Start          time.Time
				Requests       int64
				UpstreamErrors int64   `json:"upstream_errors"`
				BytesIn        int64   `json:"bytes_in"`
				BytesOut       int64   `json:"bytes_out"`
				P50ms          float64 `json:"p50_ms"`
				P95ms          float64 `json:"p95_ms"`
				P99ms          float64 `json:"p99_ms"`
			}
			Total struct{ Requests int64 }
		}
		body := e.must(200, "GET", query("2026-03-10T09:00:00Z", "2026-03-10T13:00:00Z", ""), apiKey(p.key), nil).body
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "granularity", got.Granularity, "hour")
		mustEqual(t, "buckets", len(got.Buckets), 4)
		b := got.Buckets[1]
		mustEqual(t, "bucket start", b.Start, day.Add(10*time.Hour))
		mustEqual(t, "requests", b.Requests, int64(200))
		mustEqual(t, "upstream errors", b.UpstreamErrors, int64(2))
		mustEqual(t, "bytes out", b.BytesOut, int64(10000))
		// Half the requests took 7.5–10 ms, half 75–100 ms.
		if b.P50ms < 7.5 || b.P50ms > 10 || b.P99ms < 75 || b.P99ms > 100 || b.P95ms < b.P50ms {
			t.Errorf("percentiles p50 %v p95 %v p99 %v, want p50 in (7.5, 10] and p99 in (75, 100]", b.P50ms, b.P95ms, b.P99ms)
		}
		mustEqual(t, "empty bucket", got.Buckets[0].Requests, int64(0))
		mustEqual(t, "12:00 bucket", got.Buckets[3].Requests, int64(7))
		mustEqual(t, "total", got.Total.Requests, int64(207))

		body = e.must(200, "GET", query("2026-03-10T00:00:00Z", "2026-03-12T00:00:00Z", "day"), admin, nil).body
		json.Unmarshal(body, &got)
		if len(got.Buckets) != 2 || got.Buckets[0].Requests != 207 || got.Buckets[1].Requests != 0 {
			t.Errorf("day buckets = %+v, want [207, 0]", got.Buckets)
		}
		body = e.must(200, "GET", query("2026-03-10T10:00:00Z", "2026-03-10T10:03:00Z", "minute"), admin, nil).body
		json.Unmarshal(body, &got)
		if len(got.Buckets) != 3 || got.Buckets[0].Requests != 200 {
			t.Errorf("minute buckets = %+v, want [200, 0, 0]", got.Buckets)
		}

		// Validation names the field.
		for _, c := range []struct{ name, path, field string }{
			{"no from", tenantPath(tid, "usage") + "?to=2026-03-10T10:00:00Z", "from"},
			{"bad to", query("2026-03-10T09:00:00Z", "yesterday", ""), "to"},
			{"to before from", query("2026-03-10T09:00:00Z", "2026-03-10T08:00:00Z", ""), "to"},
			{"bad granularity", query("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", "week"), "granularity"},
			{"minute range too long", query("2026-03-10T00:00:00Z", "2026-03-12T00:00:00Z", "minute"), "from"},
			{"hour range too long", query("2026-01-01T00:00:00Z", "2026-03-12T00:00:00Z", "hour"), "from"},
		} {
			r := e.must(400, "GET", c.path, apiKey(p.key), nil)
			if code, field := r.errCode(t); code != "invalid_input" || field != c.field {
				t.Errorf("%s: %s %s, want invalid_input on %s", c.name, code, field, c.field)
			}
		}
		// Another partner's tenant does not exist for them.
		e.must(404, "GET", query("2026-03-10T09:00:00Z", "2026-03-10T13:00:00Z", ""), apiKey(other.key), nil)
	})
}

func TestQuotasShowUsage(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		p := e.createPartner("quotap")
		tid := idOf(e.createTenant(p, "quotaed", nil))
		now := e.clock.Now()
		month := whitelabel.MonthStart(now)
		recs := []whitelabel.UsageRecord{
			{EdgeID: "a", TenantID: tid, Minute: month.Add(time.Hour), Requests: 40, BytesIn: 1_000_000_000, BytesOut: 2_500_000_000},
			{EdgeID: "b", TenantID: tid, Minute: now.Truncate(time.Minute), Requests: 2},
			{EdgeID: "a", TenantID: tid, Minute: month.Add(-time.Hour), Requests: 1000}, // last month
		}
		if err := st.(whitelabel.UsageStore).WriteUsage(t.Context(), recs); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Quotas map[string]struct {
				Limit int64
				Used  *int64
				Reset *string
			}
		}
		json.Unmarshal(e.must(200, "GET", tenantPath(tid, "quotas"), apiKey(p.key), nil).body, &got)
		reset := month.AddDate(0, 1, 0).Format(time.RFC3339)
		calls := got.Quotas[whitelabel.QuotaAPICallsMonthly]
		if calls.Used == nil || *calls.Used != 42 || calls.Reset == nil || *calls.Reset != reset || calls.Limit != 100_000 {
			t.Errorf("api_calls_monthly = %+v, want used 42 of 100000, reset %s", calls, reset)
		}
		bw := got.Quotas[whitelabel.QuotaBandwidthGBMonthly]
		if bw.Used == nil || *bw.Used != 3 || bw.Limit != 10 {
			t.Errorf("bandwidth_gb_monthly = %+v, want used 3 of 10", bw)
		}
		if other := got.Quotas["max_properties"]; other.Used != nil {
			t.Errorf("max_properties used = %v, want null", *other.Used)
		}
		// PUT answers with usage too.
		json.Unmarshal(e.must(200, "PUT", tenantPath(tid, "quotas", whitelabel.QuotaAPICallsMonthly), apiKey(p.key), map[string]any{"value": 50}).body, &got)
		if c := got.Quotas[whitelabel.QuotaAPICallsMonthly]; c.Limit != 50 || c.Used == nil || *c.Used != 42 {
			t.Errorf("after PUT api_calls_monthly = %+v, want limit 50 used 42", c)
		}
	})
}
