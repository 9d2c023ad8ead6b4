-- The newest matches first without reading every match: each row of the
-- text index also carries the token of its *bucket* (`t<n>`, n =
-- text_seq >> 15, 32,768 consecutive rows a bucket) in `scope_tsv`, so
-- that the GIN index itself can restrict a search to the newest buckets
-- (`words & scope & (t170 | t171)`) and hand back only their matches. A
-- search walks back a few buckets at a time, as many as the matches seen
-- so far say it needs (precinct-store/src/search.rs, BUCKET_SHIFT).
-- A bitmap of a `text_seq` range combined with the GIN scan could not do
-- this: it reads every match of the words first (docs/benchmarks.md).
-- SQLite's FTS5 needs no bucket: sqlite/0010_search_buckets.sql is empty.
ALTER TABLE case_text DROP COLUMN scope_tsv;
ALTER TABLE case_text ADD COLUMN scope_tsv tsvector
    GENERATED ALWAYS AS (array_to_tsvector(string_to_array(
        scope || ' t' || (text_seq >> 15)::text, ' '))) STORED;
CREATE INDEX case_text_search ON case_text USING GIN (tsv, scope_tsv);
ANALYZE case_text;
