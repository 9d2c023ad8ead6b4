-- Platform: organisation, users and credentials, sessions, workstations and
-- devices. Times are microseconds since the Unix epoch (UTC); booleans are
-- 0/1 integers so that both engines read them the same way.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    locked_at BIGINT,
    must_change_password BIGINT NOT NULL CHECK (must_change_password IN (0, 1)),
    totp_secret TEXT,
    totp_last_step BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE units (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('precinct', 'unit')),
    parent_id TEXT REFERENCES units (id),
    supervisor_id TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE user_units (
    user_id TEXT NOT NULL REFERENCES users (id),
    unit_id TEXT NOT NULL REFERENCES units (id),
    PRIMARY KEY (user_id, unit_id)
);

-- Each attempt is counted before its secret is checked; a success removes
-- its own row again.
CREATE TABLE login_failures (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (user_id, at);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    stage TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    pending_totp_secret TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE workstations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    unit_id TEXT NOT NULL REFERENCES units (id),
    fingerprint TEXT UNIQUE,
    networks TEXT NOT NULL,
    enabled BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('phone', 'tablet', 'laptop')),
    assigned_user_id TEXT REFERENCES users (id),
    fingerprint TEXT UNIQUE,
    revoked_at BIGINT,
    enrolled_at BIGINT NOT NULL
);
