-- The audit trail. Events are written once and never updated or deleted;
-- `audit_pending` queues them for the sequencer, which gives each a place
-- in the Merkle log (`audit_log`), stores the perfect subtree hashes that
-- proofs need (`audit_nodes`), and signs checkpoints.

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    time_us INTEGER NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    session_id TEXT,
    channel TEXT NOT NULL,
    workstation_id TEXT,
    device_id TEXT,
    source_ip TEXT,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    reason TEXT,
    grant_id TEXT,
    request_id TEXT
);
CREATE INDEX audit_events_time ON audit_events (time_us);
CREATE INDEX audit_events_actor ON audit_events (actor_id, time_us);
CREATE INDEX audit_events_object ON audit_events (object_type, object_id, time_us);

CREATE TABLE audit_pending (
    ingest INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE REFERENCES audit_events (id)
);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL UNIQUE REFERENCES audit_events (id),
    leaf_hash BLOB NOT NULL
);

CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

-- `previous` is unique: of two servers signing at once, one wins and the
-- chain of checkpoints never forks.
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY NOT NULL,
    previous INTEGER NOT NULL UNIQUE,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    signed_at INTEGER NOT NULL
);

-- One row: the sequencer takes it first, which serialises sequencers.
CREATE TABLE audit_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    size INTEGER NOT NULL
);
INSERT INTO audit_state (id, size) VALUES (1, 0);
