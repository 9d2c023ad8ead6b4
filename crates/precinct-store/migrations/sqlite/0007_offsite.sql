-- Off-site work: duty status, off-site grants with their cases, documents
-- and comment threads, in-app notifications (and their e-mail), compliance
-- incidents, and the paper case files of the records room with their
-- custody history. Kept in step with postgres/0007_offsite.sql.

ALTER TABLE users ADD COLUMN on_duty BIGINT NOT NULL DEFAULT 0 CHECK (on_duty IN (0, 1));

CREATE TABLE duty_periods (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    started_by TEXT NOT NULL REFERENCES users (id),
    ended_by TEXT REFERENCES users (id)
);
CREATE INDEX duty_periods_user ON duty_periods (user_id, started_at);
CREATE UNIQUE INDEX duty_periods_one_open ON duty_periods (user_id) WHERE ended_at IS NULL;

CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('administrative', 'off_duty_investigation')),
    requester TEXT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'info_requested', 'approved', 'denied', 'revoked', 'withdrawn')),
    justification TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    may_add_notes BIGINT NOT NULL CHECK (may_add_notes IN (0, 1)),
    device_id TEXT REFERENCES devices (id),
    decided_by TEXT REFERENCES users (id),
    decided_at BIGINT,
    decision_note TEXT,
    revoked_by TEXT REFERENCES users (id),
    revoked_at BIGINT,
    reminded BIGINT NOT NULL DEFAULT 0 CHECK (reminded IN (0, 1)),
    -- The approving supervisor was given the review item.
    review_opened BIGINT NOT NULL DEFAULT 0 CHECK (review_opened IN (0, 1)),
    reviewed_at BIGINT,
    created_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX grants_requester ON grants (requester, created_at);
CREATE INDEX grants_status ON grants (status, ends_at);

CREATE TABLE grant_cases (
    grant_id TEXT NOT NULL REFERENCES grants (id),
    case_id TEXT NOT NULL REFERENCES cases (id),
    PRIMARY KEY (grant_id, case_id)
);
CREATE TABLE grant_documents (
    grant_id TEXT NOT NULL REFERENCES grants (id),
    document_id TEXT NOT NULL,
    PRIMARY KEY (grant_id, document_id)
);

-- The thread of a request: comments, and each step with its note.
CREATE TABLE grant_comments (
    id TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants (id),
    author TEXT NOT NULL REFERENCES users (id),
    step TEXT NOT NULL,
    body TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX grant_comments_grant ON grant_comments (grant_id, at);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    subject_id TEXT,
    message TEXT NOT NULL,
    at BIGINT NOT NULL,
    read_at BIGINT,
    -- E-mail: 0 not wanted or not configured, 1 waiting, 2 sent, 3 given
    -- up, 4 being sent by one of the servers.
    mail_state BIGINT NOT NULL DEFAULT 0,
    mail_attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX notifications_user ON notifications (user_id, at);
CREATE INDEX notifications_mail ON notifications (mail_state, at);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    at BIGINT NOT NULL,
    audit_event_id TEXT NOT NULL,
    case_id TEXT,
    grant_id TEXT
);
CREATE INDEX incidents_user ON incidents (user_id, at);
CREATE INDEX incidents_at ON incidents (at);

-- The paper file of a case; a row exists once the records room holds it.
CREATE TABLE paper_files (
    case_id TEXT PRIMARY KEY NOT NULL REFERENCES cases (id),
    location TEXT NOT NULL,
    holder TEXT REFERENCES users (id),
    checked_out_at BIGINT,
    due_at BIGINT,
    off_premises BIGINT NOT NULL DEFAULT 0 CHECK (off_premises IN (0, 1)),
    grant_id TEXT REFERENCES grants (id),
    overdue_flagged BIGINT NOT NULL DEFAULT 0 CHECK (overdue_flagged IN (0, 1))
);
CREATE INDEX paper_files_due ON paper_files (due_at);

CREATE TABLE paper_file_custody (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES paper_files (case_id),
    step TEXT NOT NULL CHECK (step IN ('registered', 'check_out', 'check_in')),
    holder TEXT REFERENCES users (id),
    clerk TEXT NOT NULL REFERENCES users (id),
    at BIGINT NOT NULL,
    due_at BIGINT,
    off_premises BIGINT NOT NULL DEFAULT 0,
    grant_id TEXT
);
CREATE INDEX paper_file_custody_case ON paper_file_custody (case_id, at);
