// The schema and its numbered migrations.
//
// `schema_version` holds one row: the number of the last migration applied. Opening runs the
// missing migrations in order, all in one transaction, so a database is either wholly at the
// old version or wholly at the new one. A database whose version is above kSchemaVersion was
// written by a newer heraldd and is refused (its tables may mean things this code does not
// know). A migration, once released, never changes: add a new one instead.
#pragma once

#include "storage/db.h"
#include "storage/result.h"

namespace herald::storage {

inline constexpr int kSchemaVersion = 4;

// The version recorded in the file: 0 for an empty database (no schema_version table).
Result<int> schema_version(Db& db);

// Brings the database to kSchemaVersion. The error says why ("written by a newer heraldd
// (schema 3; this one knows up to 2)", "migration 2: ...").
Status migrate(Db& db);

}  // namespace herald::storage
