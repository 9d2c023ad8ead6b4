-- Search within reach, inside the index: every row of the text index also
-- carries its case's scope tokens (`c<case> u<unit> m<member>...`, ids as
-- 32 hex digits), and one GIN index covers the words (`tsv`) and the
-- tokens (`scope_tsv`), so that a search reads only the matches within the
-- asker's reach. `text_seq` orders matches newest first.
-- Existing rows are numbered in the order they were written.
ALTER TABLE case_text ADD COLUMN text_seq BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE case_text ADD COLUMN scope TEXT NOT NULL DEFAULT '';

UPDATE case_text t SET scope =
       'c' || replace(t.case_id, '-', '') || ' u' || replace(c.unit_id, '-', '') ||
       coalesce((SELECT ' ' || string_agg('m' || replace(m.user_id, '-', ''), ' ')
                 FROM case_members m WHERE m.case_id = t.case_id), '')
FROM cases c WHERE c.id = t.case_id;

ALTER TABLE case_text ADD COLUMN scope_tsv tsvector
    GENERATED ALWAYS AS (array_to_tsvector(string_to_array(scope, ' '))) STORED;

DROP INDEX case_text_tsv;
CREATE INDEX case_text_search ON case_text USING GIN (tsv, scope_tsv);
-- Newest first: where matches are many, walking this index backwards and
-- stopping at the batch beats reading every match; the planner chooses
-- from fresh statistics.
CREATE INDEX case_text_seq ON case_text (text_seq);
ANALYZE case_text;
