-- Nothing to do on SQLite: FTS5 intersects the words' and the scope's
-- posting lists and walks them newest first by itself. PostgreSQL's index
-- rows gain a bucket token (postgres/0010_search_buckets.sql); this file
-- keeps the two trees in lock step.
SELECT 1;
