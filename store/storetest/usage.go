package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

// usageOf returns s as a UsageStore, or fails the test: both stores must
// implement it.
func usageOf(t *testing.T, s whitelabel.Store) whitelabel.UsageStore {
	t.Helper()
	us, ok := s.(whitelabel.UsageStore)
	if !ok {
		t.Fatalf("%T does not implement whitelabel.UsageStore", s)
	}
	return us
}

// hist returns a histogram with counts at the given indexes.
func hist(pairs ...int64) []int64 {
	h := make([]int64, whitelabel.UsageLatencyBuckets)
	for i := 0; i+1 < len(pairs); i += 2 {
		h[pairs[i]] = pairs[i+1]
	}
	return h
}

func usageRec(edge string, tenant int64, minute time.Time, req, errs, in, out int64, lat []int64) whitelabel.UsageRecord {
	return whitelabel.UsageRecord{EdgeID: edge, TenantID: tenant, Minute: minute, Requests: req, UpstreamErrors: errs, BytesIn: in, BytesOut: out, Latency: lat}
}

func sameUsage(a, b whitelabel.UsageRecord) bool {
	if !a.Minute.Equal(b.Minute) || a.TenantID != b.TenantID || a.Requests != b.Requests || a.UpstreamErrors != b.UpstreamErrors ||
		a.BytesIn != b.BytesIn || a.BytesOut != b.BytesOut || len(a.Latency) != len(b.Latency) {
		return false
	}
	for i := range a.Latency {
		if a.Latency[i] != b.Latency[i] {
			return false
		}
	}
	return true
}

// testUsageWriteIdempotent proves that rewriting a batch, as the edge's
// recorder does after a failed write, replaces and never adds.
func testUsageWriteIdempotent(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	us := usageOf(t, s)
	m := time.Date(2026, 3, 10, 12, 34, 0, 0, time.UTC)
	batch := []whitelabel.UsageRecord{
		usageRec("edge-a", 7, m, 10, 1, 100, 1000, hist(3, 6, 10, 4)),
		usageRec("edge-b", 7, m, 5, 0, 50, 500, hist(3, 5)),
		usageRec("edge-a", 8, m, 99, 0, 1, 2, hist(0, 99)),
	}
	for i := range 3 {
		if err := us.WriteUsage(ctx, batch); err != nil {
			t.Fatalf("WriteUsage #%d = %v", i, err)
		}
	}
	got, err := us.UsageTotal(ctx, 7, m, m.Add(time.Minute))
	if err != nil {
		t.Fatalf("UsageTotal = %v", err)
	}
	want := usageRec("", 7, m, 15, 1, 150, 1500, hist(3, 11, 10, 4))
	if !sameUsage(got, want) {
		t.Errorf("UsageTotal after 3 writes = %+v, want %+v", got, want)
	}
	// A replacement with other values wins, it is not added.
	batch[0].Requests, batch[0].Latency = 12, hist(3, 8, 10, 4)
	if err := us.WriteUsage(ctx, batch[:1]); err != nil {
		t.Fatalf("WriteUsage(replace) = %v", err)
	}
	got, _ = us.UsageTotal(ctx, 7, m, m.Add(time.Minute))
	if got.Requests != 17 || got.Latency[3] != 13 {
		t.Errorf("after replace requests = %d, lat[3] = %d; want 17, 13", got.Requests, got.Latency[3])
	}
	// An empty batch is fine; a bad record fails the whole batch.
	if err := us.WriteUsage(ctx, nil); err != nil {
		t.Errorf("WriteUsage(nil) = %v", err)
	}
	bad := []whitelabel.UsageRecord{usageRec("edge-c", 7, m.Add(time.Minute), 1, 0, 0, 0, nil), usageRec("", 7, m, 1, 0, 0, 0, nil)}
	var we *whitelabel.Error
	if err := us.WriteUsage(ctx, bad); !errors.As(err, &we) || we.Code != whitelabel.CodeInvalid {
		t.Errorf("WriteUsage(no edge id) = %v, want invalid_input", err)
	}
	if got, _ := us.UsageTotal(ctx, 7, m, m.Add(time.Hour)); got.Requests != 17 {
		t.Errorf("after failed batch requests = %d, want 17 (nothing written)", got.Requests)
	}
	// No rows: zero, not an error.
	if got, err := us.UsageTotal(ctx, 404, m, m.Add(time.Hour)); err != nil || got.Requests != 0 || len(got.Latency) != whitelabel.UsageLatencyBuckets {
		t.Errorf("UsageTotal(no rows) = %+v, %v; want zero", got, err)
	}
}

// testUsageQuery checks bucketing by minute, hour and day over [from, to),
// summed over edges with merged histograms.
func testUsageQuery(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	us := usageOf(t, s)
	d0 := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	at := func(day, h, m int) time.Time {
		return d0.Add(time.Duration(day)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	batch := []whitelabel.UsageRecord{
		usageRec("e1", 1, at(0, 10, 0), 1, 0, 10, 100, hist(0, 1)),
		usageRec("e2", 1, at(0, 10, 0), 2, 1, 20, 200, hist(1, 2)),
		usageRec("e1", 1, at(0, 10, 59), 4, 0, 40, 400, hist(2, 4)),
		usageRec("e1", 1, at(0, 11, 0), 8, 0, 80, 800, hist(3, 8)),
		usageRec("e1", 1, at(0, 23, 59), 16, 2, 160, 1600, hist(26, 16)),
		usageRec("e2", 1, at(1, 0, 0), 32, 0, 320, 3200, hist(4, 32)), // Feb 1st
		usageRec("e1", 2, at(0, 10, 0), 1000, 0, 0, 0, hist(0, 1000)), // another tenant
	}
	if err := us.WriteUsage(ctx, batch); err != nil {
		t.Fatalf("WriteUsage = %v", err)
	}
	q := func(g whitelabel.UsageGranularity, from, to time.Time) []whitelabel.UsageRecord {
		t.Helper()
		got, err := us.QueryUsage(ctx, whitelabel.UsageQuery{TenantID: 1, From: from, To: to, Granularity: g})
		if err != nil {
			t.Fatalf("QueryUsage(%s, %v, %v) = %v", g, from, to, err)
		}
		return got
	}
	check := func(name string, got, want []whitelabel.UsageRecord) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d buckets %+v, want %d %+v", name, len(got), got, len(want), want)
		}
		for i := range want {
			if !sameUsage(got[i], want[i]) {
				t.Errorf("%s bucket %d = %+v\nwant %+v", name, i, got[i], want[i])
			}
		}
	}
	check("minute", q(whitelabel.UsageMinute, at(0, 10, 0), at(0, 11, 0)), []whitelabel.UsageRecord{
		usageRec("", 1, at(0, 10, 0), 3, 1, 30, 300, hist(0, 1, 1, 2)),
		usageRec("", 1, at(0, 10, 59), 4, 0, 40, 400, hist(2, 4)),
	})
	check("hour", q(whitelabel.UsageHour, at(0, 0, 0), at(1, 1, 0)), []whitelabel.UsageRecord{
		usageRec("", 1, at(0, 10, 0), 7, 1, 70, 700, hist(0, 1, 1, 2, 2, 4)),
		usageRec("", 1, at(0, 11, 0), 8, 0, 80, 800, hist(3, 8)),
		usageRec("", 1, at(0, 23, 0), 16, 2, 160, 1600, hist(26, 16)),
		usageRec("", 1, at(1, 0, 0), 32, 0, 320, 3200, hist(4, 32)),
	})
	// [from, to) excludes to; a from inside a minute counts that minute.
	check("day", q(whitelabel.UsageDay, at(0, 10, 0).Add(30*time.Second), at(1, 0, 0)), []whitelabel.UsageRecord{
		usageRec("", 1, at(0, 0, 0), 31, 3, 310, 3100, hist(0, 1, 1, 2, 2, 4, 3, 8, 26, 16)),
	})
	check("empty", q(whitelabel.UsageDay, at(5, 0, 0), at(6, 0, 0)), nil)

	// Monthly totals: January and February apart.
	jan, err := us.UsageTotal(ctx, 1, whitelabel.MonthStart(at(0, 0, 0)), whitelabel.MonthStart(at(1, 0, 0)))
	if err != nil || jan.Requests != 31 || jan.BytesIn+jan.BytesOut != 3410 {
		t.Errorf("January total = %+v, %v; want 31 requests, 3410 bytes", jan, err)
	}
	feb, err := us.UsageTotal(ctx, 1, whitelabel.MonthStart(at(1, 0, 0)), whitelabel.MonthStart(at(1, 0, 0)).AddDate(0, 1, 0))
	if err != nil || feb.Requests != 32 {
		t.Errorf("February total = %+v, %v; want 32 requests", feb, err)
	}

	// Bad queries are invalid_input naming the field.
	for _, bad := range []whitelabel.UsageQuery{
		{TenantID: 1, From: at(0, 0, 0), To: at(0, 1, 0), Granularity: "week"},
		{TenantID: 1, From: at(0, 1, 0), To: at(0, 1, 0), Granularity: whitelabel.UsageMinute},
		{TenantID: 1, From: at(0, 0, 0), To: at(2, 0, 0), Granularity: whitelabel.UsageMinute},
	} {
		var we *whitelabel.Error
		if _, err := us.QueryUsage(ctx, bad); !errors.As(err, &we) || we.Code != whitelabel.CodeInvalid || we.Field == "" {
			t.Errorf("QueryUsage(%+v) = %v, want invalid_input with a field", bad, err)
		}
	}
}
