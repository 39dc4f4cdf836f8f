package edge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/estatecore/whitelabel"
)

// snapshotFileFormat is bumped when diskSnapshot changes incompatibly.
const snapshotFileFormat = 1

// diskSnapshot is the file at Config.SnapshotPath: the raw tenant configs
// (entries are rebuilt on load, so a new edge version never trusts
// precomputed values from an old one).
type diskSnapshot struct {
	Format  int                       `json:"format"`
	Version int64                     `json:"version"`
	SavedAt time.Time                 `json:"saved_at"`
	Tenants []whitelabel.TenantConfig `json:"tenants"`
}

// saveLoop writes the snapshot whenever install asks, at most once per
// SnapshotWriteInterval, until ctx ends; a pending request is written
// before it returns.
func (s *Server) saveLoop(ctx context.Context) {
	if s.cfg.SnapshotPath == "" {
		return
	}
	var saved int64 = -1
	save := func() {
		snap := s.snap.Load()
		if snap.version == saved {
			return
		}
		if err := s.writeSnapshotFile(snap); err != nil {
			s.log.Error("edge: write snapshot file", "error", err, "path", s.cfg.SnapshotPath)
			return
		}
		saved = snap.version
	}
	for {
		select {
		case <-ctx.Done():
			select {
			case <-s.saveReq:
				save()
			default:
			}
			return
		case <-s.saveReq:
		}
		save()
		t := time.NewTimer(s.cfg.SnapshotWriteInterval)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// writeSnapshotFile writes snap to SnapshotPath atomically: a temporary
// file in the same directory, synced, then renamed over the old one, so
// a crash leaves either the old or the new snapshot, never half of one.
func (s *Server) writeSnapshotFile(snap *snapshot) (err error) {
	path := s.cfg.SnapshotPath
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	d := diskSnapshot{Format: snapshotFileFormat, Version: snap.version, SavedAt: s.now().UTC(), Tenants: make([]whitelabel.TenantConfig, 0, snap.tenants)}
	snap.entries(func(e *tenantEntry) { d.Tenants = append(d.Tenants, e.cfg) })
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := json.NewEncoder(bw).Encode(&d); err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close snapshot: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename snapshot: %w", err)
	}
	return nil
}

// readSnapshotFile loads and rebuilds the snapshot at SnapshotPath.
func (s *Server) readSnapshotFile() (*snapshot, time.Time, error) {
	f, err := os.Open(s.cfg.SnapshotPath)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	var d diskSnapshot
	if err := json.NewDecoder(bufio.NewReaderSize(f, 1<<16)).Decode(&d); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode %s: %w", s.cfg.SnapshotPath, err)
	}
	if d.Format != snapshotFileFormat {
		return nil, time.Time{}, errors.New("snapshot file has an unknown format")
	}
	return s.builder.build(d.Version, d.Tenants, d.SavedAt), d.SavedAt, nil
}
