-- The Merkle tree's hashes, stored as tiles (see `audit/tiles.rs`): tile
-- (level, idx) holds the hashes of tree level 5 * level, nodes 32 * idx
-- onwards, end to end; the last tile of each level grows with the log.
-- They replace one row per subtree: a proof now reads one tile, a commit
-- rewrites a few. The tiles are built from the subtree rows of levels
-- 0, 5, 10, ... (a rowid table: a full tile, 1 KiB, is too large to stay
-- on a WITHOUT ROWID b-tree's page).
CREATE TABLE audit_tiles (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

INSERT INTO audit_tiles (level, idx, hashes)
SELECT level / 5, idx / 32, CAST(group_concat(hash, '' ORDER BY idx) AS BLOB)
FROM audit_nodes
WHERE level % 5 = 0
GROUP BY level / 5, idx / 32;

DROP TABLE audit_nodes;
