// Package postgres implements whitelabel.Store on PostgreSQL with a pgx
// connection pool: the production store, shared by any number of edge and
// control processes.
//
// Every config mutation is one transaction: the row change, the bump of
// the single config_version row (whose lock serializes writers, so commit
// order is version order), the config_changes record, the audit entry and
// pg_notify('wl_config', version), delivered at commit. WaitForChange
// listens on a dedicated connection (listen.go) that reconnects when
// dropped, and also polls every Config.PollInterval, so a change is never
// missed. LoadConfig reads in one REPEATABLE READ transaction.
//
// IDs come from identity columns, so a rolled-back insert leaves a gap;
// store/sqlite hands out IDs without gaps. Nothing else differs.
//
// The schema lives in migrations/, embedded and applied by goose through
// Store.Migrate (or Open with Config.Migrate) under a session advisory
// lock, so concurrent migrators are safe. Driver errors are turned into
// *whitelabel.Error values in one place, formatError in postgres.go,
// which is the file to read first; store/sqlite mirrors this package
// method for method, and store/storetest checks that both behave alike.
package postgres
