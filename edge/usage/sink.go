package usage

import (
	"context"

	"github.com/estatecore/whitelabel"
)

// Sink receives sealed buckets, one whitelabel.UsageRecord per (EdgeID,
// TenantID, Minute) with a histogram over whitelabel.UsageLatencyBounds;
// the store implements it (every whitelabel.UsageWriter is a Sink).
//
// WriteUsage must write each bucket by its key (EdgeID, TenantID,
// Minute), replacing any row with that key (an upsert, not an add): a
// batch that failed, even after partly committing, is retried with the
// same values, and replacing is what makes the retry harmless. It should
// write the batch atomically when it can, honour ctx, and must not keep
// batch after it returns. It is called from one goroutine at a time.
type Sink interface {
	WriteUsage(ctx context.Context, batch []whitelabel.UsageRecord) error
}

// SinkFunc adapts a function to [Sink].
type SinkFunc func(ctx context.Context, batch []whitelabel.UsageRecord) error

// WriteUsage calls f.
func (f SinkFunc) WriteUsage(ctx context.Context, batch []whitelabel.UsageRecord) error {
	return f(ctx, batch)
}

var _ Sink = whitelabel.UsageWriter(nil)
