-- What a case read may keep between requests, and how it knows it may: a
-- revision for every case (`case_revisions`) that moves with any change to
-- the case or to a row of its people, documentation, members, tasks or
-- timeline, and one revision of the organisation (units, and the names
-- users are shown by) for what every case page also shows. Triggers move them, so that no
-- writer (a later one, another server, the bulk seed's COPY) can forget
-- to. A reader compares them in the statement it reads in
-- (docs/decisions/0008). Kept in step with sqlite/0009_case_revisions.sql.

-- Apart from the cases' rows, which carry their narrative: moving a
-- revision rewrites a row this narrow, not the case's.
CREATE TABLE case_revisions (
    case_id TEXT PRIMARY KEY NOT NULL REFERENCES cases (id),
    revision BIGINT NOT NULL
);
INSERT INTO case_revisions (case_id, revision) SELECT id, 0 FROM cases ORDER BY id;

CREATE TABLE org_revision (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO org_revision (id, revision) VALUES (1, 0);

CREATE FUNCTION cases_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_revisions (case_id, revision) SELECT id, 0 FROM added;
    RETURN NULL;
END $$;
CREATE TRIGGER cases_added AFTER INSERT ON cases
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION cases_added();
CREATE FUNCTION cases_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_revisions SET revision = revision + 1
    WHERE case_id IN (SELECT id FROM old_rows UNION SELECT id FROM new_rows);
    RETURN NULL;
END $$;
CREATE TRIGGER cases_changed AFTER UPDATE ON cases
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cases_changed();

-- A statement's rows at once (the seed copies thousands in one): each case
-- they belong to moves once.
CREATE FUNCTION case_rows_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_revisions SET revision = revision + 1
    WHERE case_id IN (SELECT case_id FROM added);
    RETURN NULL;
END $$;
CREATE FUNCTION case_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_revisions SET revision = revision + 1
    WHERE case_id IN (SELECT case_id FROM old_rows UNION SELECT case_id FROM new_rows);
    RETURN NULL;
END $$;
CREATE FUNCTION case_rows_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_revisions SET revision = revision + 1
    WHERE case_id IN (SELECT case_id FROM removed);
    RETURN NULL;
END $$;

CREATE TRIGGER case_members_added AFTER INSERT ON case_members
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION case_rows_added();
CREATE TRIGGER case_members_changed AFTER UPDATE ON case_members
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_rows_changed();
CREATE TRIGGER case_members_removed AFTER DELETE ON case_members
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION case_rows_removed();

CREATE TRIGGER case_people_added AFTER INSERT ON case_people
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION case_rows_added();
CREATE TRIGGER case_people_changed AFTER UPDATE ON case_people
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_rows_changed();
CREATE TRIGGER case_people_removed AFTER DELETE ON case_people
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION case_rows_removed();

-- Documents are append-only (0005): only added.
CREATE TRIGGER documents_added AFTER INSERT ON documents
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION case_rows_added();

CREATE TRIGGER case_tasks_added AFTER INSERT ON case_tasks
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION case_rows_added();
CREATE TRIGGER case_tasks_changed AFTER UPDATE ON case_tasks
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_rows_changed();
CREATE TRIGGER case_tasks_removed AFTER DELETE ON case_tasks
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION case_rows_removed();

CREATE TRIGGER case_timeline_added AFTER INSERT ON case_timeline
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION case_rows_added();
CREATE TRIGGER case_timeline_changed AFTER UPDATE ON case_timeline
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_rows_changed();
CREATE TRIGGER case_timeline_removed AFTER DELETE ON case_timeline
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION case_rows_removed();

-- The organisation: any unit, and the names users are shown by.
CREATE FUNCTION org_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE org_revision SET revision = revision + 1 WHERE id = 1;
    RETURN NULL;
END $$;
CREATE TRIGGER units_changed AFTER INSERT OR UPDATE OR DELETE ON units
FOR EACH STATEMENT EXECUTE FUNCTION org_changed();
CREATE TRIGGER users_renamed AFTER UPDATE OF display_name OR DELETE ON users
FOR EACH STATEMENT EXECUTE FUNCTION org_changed();
