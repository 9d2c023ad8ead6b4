-- Search within reach, inside the index: every row of the text index also
-- carries its case's scope tokens (`c<case> u<unit> m<member>...`, ids as
-- 32 hex digits), so that FTS5 intersects the words with the asker's reach
-- and walks the matches newest first (by rowid) instead of producing every
-- match in the department. FTS5 tables cannot gain a column: the index is
-- rebuilt with the same rowids and renamed.
CREATE VIRTUAL TABLE case_text_scoped USING fts5(
    body,
    scope,
    case_id UNINDEXED,
    kind UNINDEXED,
    ref_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO case_text_scoped (rowid, body, scope, case_id, kind, ref_id)
SELECT t.rowid, t.body,
       'c' || replace(t.case_id, '-', '') || ' u' || replace(c.unit_id, '-', '') ||
       coalesce((SELECT ' ' || group_concat('m' || replace(m.user_id, '-', ''), ' ')
                 FROM case_members m WHERE m.case_id = t.case_id), ''),
       t.case_id, t.kind, t.ref_id
FROM case_text t JOIN cases c ON c.id = t.case_id
ORDER BY t.rowid;

DROP TABLE case_text;
ALTER TABLE case_text_scoped RENAME TO case_text;
