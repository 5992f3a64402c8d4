// Package store keeps dialerd's state in SQLite (modernc.org/sqlite, no cgo).
//
// Writes go through one connection, since SQLite has one writer and a pool
// would only queue on its lock; reads use a separate query-only pool that WAL
// mode lets run beside the writer. The schema is a sequence of embedded SQL
// migrations applied in order at Open and recorded in schema_version; a
// database written by a newer binary is refused rather than guessed at.
//
// Every table carries tenant_id, and every query of tenant data is bounded by
// a dialer.Scope.
package store
