//! The seed's "before" schema: the ledger's four tables with only their
//! primary keys and `UNIQUE(content_hash)`; no status, time, channel or audit
//! index, no triggers: [`DDL`].

/// The "before" DDL (same columns and checks as the ledger's `captures`,
/// `exports_audit`, `errors_log`, `sync_state`).
pub const DDL: &str = "
CREATE TABLE captures (
    id           TEXT PRIMARY KEY,
    source       TEXT NOT NULL CHECK (source IN ('voice','email')),
    raw_content  TEXT NOT NULL,
    content_hash TEXT UNIQUE NULL,
    status       TEXT NOT NULL CHECK (status IN ('staged','transcribed','failed_transcription',
                                                 'exported','exported_placeholder','exported_duplicate')),
    meta_json    TEXT NOT NULL CHECK (json_valid(meta_json)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE TABLE exports_audit (
    id             TEXT PRIMARY KEY,
    capture_id     TEXT NOT NULL REFERENCES captures(id) ON DELETE CASCADE,
    vault_path     TEXT NOT NULL CHECK (vault_path = capture_id || '.md'),
    hash_at_export TEXT NULL,
    exported_at    INTEGER NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('initial','duplicate_skip','placeholder')),
    error_flag     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE errors_log (
    id         INTEGER PRIMARY KEY,
    capture_id TEXT NULL REFERENCES captures(id) ON DELETE SET NULL,
    stage      TEXT NOT NULL CHECK (stage IN ('poll','transcribe','export','backup','integrity')),
    message    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE sync_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
";
