-- Every event now takes its place in the Merkle log in the transaction that
-- writes it, so its position and leaf hash are part of its row: no queue,
-- no second pass, and `audit verify` reads the events in log order with no
-- join and few columns. Rows are still written once and never updated or
-- deleted.

-- Events still queued have no leaf hash yet; upgrade only after the
-- previous version has sequenced them (it does within a second). This
-- fails, changing nothing, if any are left.
CREATE TABLE precinct_upgrade_check (
    unsequenced_audit_events INTEGER NOT NULL CHECK (unsequenced_audit_events = 0)
);
INSERT INTO precinct_upgrade_check SELECT COUNT(*) FROM audit_pending;
DROP TABLE precinct_upgrade_check;

-- The event itself is its canonical encoding (`entry`, the bytes its leaf
-- hashes); the columns beside it are what searches filter on, and
-- `audit verify` checks them against it.
CREATE TABLE audit_entries (
    seq INTEGER PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    time_us INTEGER NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    entry BLOB NOT NULL,
    leaf_hash BLOB NOT NULL
);
-- Written in the canonical field order, without whitespace; an event
-- whose text the database escapes differently would fail `audit verify`.
INSERT INTO audit_entries (seq, id, time_us, action, outcome, entry, leaf_hash)
SELECT l.seq, e.id, e.time_us, e.action, e.outcome,
       CAST('{"v":1,"id":' || json_quote(e.id)
         || ',"time_us":' || e.time_us
         || ',"actor_id":' || json_quote(e.actor_id)
         || ',"actor_name":' || json_quote(e.actor_name)
         || ',"session_id":' || json_quote(e.session_id)
         || ',"channel":' || json_quote(e.channel)
         || ',"workstation_id":' || json_quote(e.workstation_id)
         || ',"device_id":' || json_quote(e.device_id)
         || ',"source_ip":' || json_quote(e.source_ip)
         || ',"action":' || json_quote(e.action)
         || ',"object_type":' || json_quote(e.object_type)
         || ',"object_id":' || json_quote(e.object_id)
         || ',"outcome":' || json_quote(e.outcome)
         || ',"reason":' || json_quote(e.reason)
         || ',"grant_id":' || json_quote(e.grant_id)
         || ',"request_id":' || json_quote(e.request_id) || '}' AS BLOB),
       l.leaf_hash
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

-- Subtree hashes keyed by their primary key alone (no rowid beside it):
-- one b-tree insert per hash instead of two.
CREATE TABLE audit_nodes_new (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
INSERT INTO audit_nodes_new (level, idx, hash) SELECT level, idx, hash FROM audit_nodes;
DROP TABLE audit_nodes;
ALTER TABLE audit_nodes_new RENAME TO audit_nodes;
