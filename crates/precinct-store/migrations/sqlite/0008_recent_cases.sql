-- "My cases", most recently changed first, without reading every case a
-- user was ever on: each membership carries its case's `updated_at`
-- (written with it), and one index orders a user's memberships by it.
-- Kept in step with postgres/0008_recent_cases.sql.

ALTER TABLE case_members ADD COLUMN case_updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE case_members SET case_updated_at =
    (SELECT updated_at FROM cases WHERE cases.id = case_members.case_id);
CREATE INDEX case_members_recent ON case_members (user_id, case_updated_at);
