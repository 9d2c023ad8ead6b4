-- Every event now takes its place in the Merkle log in the transaction that
-- writes it, so its position and leaf hash are part of its row: no queue,
-- no second pass, and `audit verify` reads the events in log order with no
-- join and few columns. Rows are still written once and never updated or
-- deleted.

-- Events still queued have no leaf hash yet; upgrade only after the
-- previous version has sequenced them (it does within a second). This
-- fails, changing nothing, if any are left.
CREATE TABLE precinct_upgrade_check (
    unsequenced_audit_events BIGINT NOT NULL CHECK (unsequenced_audit_events = 0)
);
INSERT INTO precinct_upgrade_check SELECT COUNT(*) FROM audit_pending;
DROP TABLE precinct_upgrade_check;

-- The event itself is its canonical encoding (`entry`, the bytes its leaf
-- hashes); the columns beside it are what searches filter on, and
-- `audit verify` checks them against it.
CREATE TABLE audit_entries (
    seq BIGINT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    time_us BIGINT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    entry BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL
);
-- Written in the canonical field order, without whitespace; an event
-- whose text the database escapes differently would fail `audit verify`.
INSERT INTO audit_entries (seq, id, time_us, action, outcome, entry, leaf_hash)
SELECT l.seq, e.id, e.time_us, e.action, e.outcome,
       convert_to('{"v":1,"id":' || to_json(e.id)::TEXT
         || ',"time_us":' || e.time_us
         || ',"actor_id":' || COALESCE(to_json(e.actor_id)::TEXT, 'null')
         || ',"actor_name":' || COALESCE(to_json(e.actor_name)::TEXT, 'null')
         || ',"session_id":' || COALESCE(to_json(e.session_id)::TEXT, 'null')
         || ',"channel":' || COALESCE(to_json(e.channel)::TEXT, 'null')
         || ',"workstation_id":' || COALESCE(to_json(e.workstation_id)::TEXT, 'null')
         || ',"device_id":' || COALESCE(to_json(e.device_id)::TEXT, 'null')
         || ',"source_ip":' || COALESCE(to_json(e.source_ip)::TEXT, 'null')
         || ',"action":' || COALESCE(to_json(e.action)::TEXT, 'null')
         || ',"object_type":' || COALESCE(to_json(e.object_type)::TEXT, 'null')
         || ',"object_id":' || COALESCE(to_json(e.object_id)::TEXT, 'null')
         || ',"outcome":' || COALESCE(to_json(e.outcome)::TEXT, 'null')
         || ',"reason":' || COALESCE(to_json(e.reason)::TEXT, 'null')
         || ',"grant_id":' || COALESCE(to_json(e.grant_id)::TEXT, 'null')
         || ',"request_id":' || COALESCE(to_json(e.request_id)::TEXT, 'null') || '}', 'UTF8'),
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
    seq BIGINT NOT NULL,
    term TEXT NOT NULL,
    PRIMARY KEY (seq, term)
);
CREATE INDEX audit_search_term ON audit_search (term, seq);
CREATE TABLE audit_search_state (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    indexed BIGINT NOT NULL
);
INSERT INTO audit_search_state (id, indexed) VALUES (1, 0);
