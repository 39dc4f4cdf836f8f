// Package sqlite implements whitelabel.Store on one SQLite file, the
// embedded default where the edge and the control plane share a disk. It
// uses modernc.org/sqlite (pure Go, no cgo) in WAL mode with foreign keys
// on.
//
// A write runs in one BEGIN IMMEDIATE transaction on a single dedicated
// connection: the row change, the config version bump, the change record
// and the audit entry commit together, and writers queue rather than fail
// with SQLITE_BUSY. Reads use a separate pool of read-only connections, so
// they never wait for a writer. WaitForChange polls the version cheaply
// (Config.PollInterval) and is woken at once by writes through the same
// Store.
//
// The schema lives in migrations/, embedded and applied by goose through
// Store.Migrate (or Open with Config.Migrate). Driver errors are turned
// into *whitelabel.Error values in one place, formatError in sqlite.go,
// which is the file to read first; store/postgres mirrors this package
// method for method, and store/storetest checks that both behave alike.
package sqlite
