-- Cases, the people in them, their documentation (append-only; attachments
-- encrypted), tasks, timeline, break-glass openings and the full-text index.
-- Kept in step with sqlite/0005_cases.sql.

CREATE TABLE case_counters (
    year BIGINT PRIMARY KEY NOT NULL,
    last BIGINT NOT NULL
);

CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    title TEXT NOT NULL,
    offense TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'active', 'suspended', 'closed', 'sealed')),
    status_before_seal TEXT,
    classification TEXT NOT NULL CHECK (classification IN ('administrative', 'case', 'restricted')),
    unit_id TEXT NOT NULL REFERENCES units (id),
    narrative TEXT NOT NULL,
    due_at BIGINT,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (year, seq)
);
CREATE INDEX cases_unit ON cases (unit_id, updated_at);

CREATE TABLE case_members (
    case_id TEXT NOT NULL REFERENCES cases (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    membership TEXT NOT NULL CHECK (membership IN ('lead', 'team', 'shared')),
    named BIGINT NOT NULL CHECK (named IN (0, 1)),
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX case_members_user ON case_members (user_id, case_id);
CREATE UNIQUE INDEX case_members_one_lead ON case_members (case_id) WHERE membership = 'lead';

CREATE TABLE case_people (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    role TEXT NOT NULL CHECK (role IN ('victim', 'witness', 'suspect', 'complainant', 'reporting_party')),
    juvenile BIGINT NOT NULL CHECK (juvenile IN (0, 1)),
    protected_witness BIGINT NOT NULL CHECK (protected_witness IN (0, 1)),
    confidential_informant BIGINT NOT NULL CHECK (confidential_informant IN (0, 1)),
    name TEXT NOT NULL,
    address TEXT,
    phone TEXT,
    date_of_birth TEXT,
    added_by TEXT NOT NULL REFERENCES users (id),
    added_at BIGINT NOT NULL
);
CREATE INDEX case_people_case ON case_people (case_id);

CREATE TABLE documents (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    kind TEXT NOT NULL CHECK (kind IN ('report', 'supplement', 'note', 'attachment')),
    classification TEXT NOT NULL CHECK (classification IN ('administrative', 'case', 'restricted')),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    author_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    amends_id TEXT REFERENCES documents (id),
    filename TEXT,
    media_type TEXT,
    size BIGINT,
    sha256 TEXT
);
CREATE INDEX documents_case ON documents (case_id, created_at);

-- Entries are never rewritten: a correction is a new row naming the old.
CREATE FUNCTION documents_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'documents are append-only'; END;
$$;
CREATE TRIGGER documents_no_change BEFORE UPDATE OR DELETE ON documents
FOR EACH ROW EXECUTE FUNCTION documents_append_only();

-- AES-256-GCM: a 12-byte nonce and the ciphertext with its tag.
CREATE TABLE attachment_blobs (
    document_id TEXT PRIMARY KEY NOT NULL REFERENCES documents (id),
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL
);

CREATE TABLE case_tasks (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    title TEXT NOT NULL,
    assignee_id TEXT REFERENCES users (id),
    due_at BIGINT,
    done_at BIGINT,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX case_tasks_case ON case_tasks (case_id, created_at);

-- What happened to a case, in the case's words; written with each change.
CREATE TABLE case_timeline (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    at BIGINT NOT NULL,
    actor_id TEXT REFERENCES users (id),
    what TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX case_timeline_case ON case_timeline (case_id, at);

-- A supervisor opening a case outside need-to-know, for review by the
-- supervisor's own chain of command.
CREATE TABLE break_glass (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    audit_event_id TEXT NOT NULL,
    reviewed_by TEXT REFERENCES users (id),
    reviewed_at BIGINT
);
CREATE INDEX break_glass_user ON break_glass (user_id, at);

-- The searchable text of cases: titles, narratives, documents, and person
-- names (`protected_person` rows are searchable only by the users the case
-- names).
CREATE TABLE case_text (
    body TEXT NOT NULL,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED
);
CREATE INDEX case_text_tsv ON case_text USING GIN (tsv);
CREATE INDEX case_text_case ON case_text (case_id);
