-- Every event now takes its place in the Merkle log in the transaction that
-- writes it, so its position and leaf hash are part of its row: no queue,
-- no second pass, and `audit verify` reads the events in log order with no
-- join. Rows are still written once and never updated or deleted.

-- Events still queued have no leaf hash yet; upgrade only after the
-- previous version has sequenced them (it does within a second). This
-- fails, changing nothing, if any are left.
CREATE TABLE precinct_upgrade_check (
    unsequenced_audit_events INTEGER NOT NULL CHECK (unsequenced_audit_events = 0)
);
INSERT INTO precinct_upgrade_check SELECT COUNT(*) FROM audit_pending;
DROP TABLE precinct_upgrade_check;

CREATE TABLE audit_entries (
    seq INTEGER PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
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
    request_id TEXT,
    leaf_hash BLOB NOT NULL
);
INSERT INTO audit_entries
SELECT l.seq, e.id, e.time_us, e.actor_id, e.actor_name, e.session_id, e.channel,
       e.workstation_id, e.device_id, e.source_ip, e.action, e.object_type,
       e.object_id, e.outcome, e.reason, e.grant_id, e.request_id, l.leaf_hash
FROM audit_log l JOIN audit_events e ON e.id = l.event_id;

DROP TABLE audit_pending;
DROP TABLE audit_log;
DROP TABLE audit_events;
ALTER TABLE audit_entries RENAME TO audit_events;
CREATE INDEX audit_events_time ON audit_events (time_us);

-- Who and what each event concerns, for the auditor's search by user or
-- case. It is derived from the events by an indexer that runs behind the
-- log in large batches (an index on the events themselves would make every
-- write touch a page per user and per case); searches read the events not
-- yet indexed directly, and `audit verify` checks it against the events.
CREATE TABLE audit_search (
    seq INTEGER NOT NULL,
    term TEXT NOT NULL,
    PRIMARY KEY (seq, term)
) WITHOUT ROWID;
CREATE INDEX audit_search_term ON audit_search (term, seq);
CREATE TABLE audit_search_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    indexed INTEGER NOT NULL
);
INSERT INTO audit_search_state (id, indexed) VALUES (1, 0);
