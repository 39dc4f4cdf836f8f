package edge

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/estatecore/whitelabel/edge/usage"
)

// defaultEdgeID names an edge whose Config.EdgeID is empty: its host name
// and process id, so two edges on one host never share usage rows.
func defaultEdgeID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "edge"
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}

// newRecorder builds the usage recorder, or nil when Config.Usage is nil.
func (s *Server) newRecorder() (*usage.Recorder, error) {
	c := s.cfg
	if c.Usage == nil {
		return nil, nil
	}
	rec, err := usage.New(usage.Config{
		EdgeID:        c.EdgeID,
		Sink:          c.Usage, // a whitelabel.UsageWriter is a usage.Sink
		FlushInterval: c.UsageFlushInterval,
		Now:           c.Now,
		Logger:        c.Logger,
		Registerer:    c.Registry,
	})
	if err != nil {
		return nil, fmt.Errorf("edge: usage: %w", err)
	}
	return rec, nil
}

// recordUsage meters one finished request of a known tenant: memory
// only, flushed to the store by Run and Close.
func (s *Server) recordUsage(st *reqState, status int, bytesIn int64, dur time.Duration) {
	s.addBandwidth(st, bytesIn) // the bandwidth quota's count (bandwidth.go)
	if s.usage == nil || st.tenant == nil || st.rec == nil {
		return
	}
	s.usage.Record(st.tenant.tenant.ID, st.start, status, bytesIn, st.rec.bytes, dur)
}

// runUsage writes complete minutes to the store until ctx ends.
func (s *Server) runUsage(ctx context.Context) {
	if s.usage != nil {
		s.usage.Run(ctx)
	}
}

// Close writes the usage still in memory, including the current minute,
// to Config.Usage, retrying until it succeeds or ctx ends. Call it after
// the HTTP server has shut down (no more requests) and Run has returned;
// requests served after Close are counted in the next minute and written
// by a later Close. It returns an error naming the buckets not written.
func (s *Server) Close(ctx context.Context) error {
	if s.usage == nil {
		return nil
	}
	if err := s.usage.Flush(ctx); err != nil {
		return fmt.Errorf("edge: flush usage: %w", err)
	}
	return nil
}

// UsageStats returns the usage recorder's delivery counters (zero when
// metering is off).
func (s *Server) UsageStats() usage.Stats {
	if s.usage == nil {
		return usage.Stats{}
	}
	return s.usage.Stats()
}
