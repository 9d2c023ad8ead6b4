-- What a case read may keep between requests, and how it knows it may: a
-- revision for every case (`case_revisions`) that moves with any change to
-- the case or to a row of its people, documentation, members, tasks or
-- timeline, and one revision of the organisation (units, and the names
-- users are shown by) for what every case page also shows. Triggers move them, so that no
-- writer (a later one, another process, the bulk seed) can forget to. A
-- reader compares them in the transaction it reads in
-- (docs/decisions/0008). Kept in step with postgres/0009_case_revisions.sql.

-- Apart from the cases' rows, which carry their narrative: moving a
-- revision rewrites a row this narrow, not the case's.
CREATE TABLE case_revisions (
    case_id TEXT PRIMARY KEY NOT NULL REFERENCES cases (id),
    revision BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO case_revisions (case_id, revision) SELECT id, 0 FROM cases ORDER BY id;

CREATE TABLE org_revision (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO org_revision (id, revision) VALUES (1, 0);

CREATE TRIGGER cases_added AFTER INSERT ON cases
BEGIN INSERT INTO case_revisions (case_id, revision) VALUES (NEW.id, 0); END;
CREATE TRIGGER cases_changed AFTER UPDATE ON cases
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id IN (OLD.id, NEW.id); END;

CREATE TRIGGER case_members_added AFTER INSERT ON case_members
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = NEW.case_id; END;
CREATE TRIGGER case_members_changed AFTER UPDATE ON case_members
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id IN (OLD.case_id, NEW.case_id); END;
CREATE TRIGGER case_members_removed AFTER DELETE ON case_members
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = OLD.case_id; END;

CREATE TRIGGER case_people_added AFTER INSERT ON case_people
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = NEW.case_id; END;
CREATE TRIGGER case_people_changed AFTER UPDATE ON case_people
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id IN (OLD.case_id, NEW.case_id); END;
CREATE TRIGGER case_people_removed AFTER DELETE ON case_people
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = OLD.case_id; END;

-- Documents are append-only (0005): only added.
CREATE TRIGGER documents_added AFTER INSERT ON documents
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = NEW.case_id; END;

CREATE TRIGGER case_tasks_added AFTER INSERT ON case_tasks
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = NEW.case_id; END;
CREATE TRIGGER case_tasks_changed AFTER UPDATE ON case_tasks
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id IN (OLD.case_id, NEW.case_id); END;
CREATE TRIGGER case_tasks_removed AFTER DELETE ON case_tasks
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = OLD.case_id; END;

CREATE TRIGGER case_timeline_added AFTER INSERT ON case_timeline
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = NEW.case_id; END;
CREATE TRIGGER case_timeline_changed AFTER UPDATE ON case_timeline
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id IN (OLD.case_id, NEW.case_id); END;
CREATE TRIGGER case_timeline_removed AFTER DELETE ON case_timeline
BEGIN UPDATE case_revisions SET revision = revision + 1 WHERE case_id = OLD.case_id; END;

-- The organisation: any unit, and the names users are shown by.
CREATE TRIGGER units_added AFTER INSERT ON units
BEGIN UPDATE org_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER units_changed AFTER UPDATE ON units
BEGIN UPDATE org_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER units_removed AFTER DELETE ON units
BEGIN UPDATE org_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER users_renamed AFTER UPDATE OF display_name ON users
BEGIN UPDATE org_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER users_removed AFTER DELETE ON users
BEGIN UPDATE org_revision SET revision = revision + 1 WHERE id = 1; END;
