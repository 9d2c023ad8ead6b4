//! The Merkle tree as stored: tiles of hashes, laid out as C2SP tlog-tiles
//! lays out a log, with a smaller tile. Tile `(t, n)` holds the hashes of
//! tree level `5t`, nodes `32n .. 32n + 31`, end to end; the last tile of
//! each level holds fewer and grows with the log. Any perfect subtree is
//! a slice of one tile hashed up at most four levels, so a proof reads one
//! tile per five levels of the tree (and only the lowest, once the upper
//! ones are cached), and a group commit rewrites a few tiles instead of
//! inserting two rows per event.

use precinct_audit::merkle::{self, Hash};
use std::collections::HashMap;

/// Tree levels per tile, and hashes per full tile.
pub(crate) const TILE_HEIGHT: u32 = 5;
pub(crate) const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// A full tile's bytes.
pub(crate) const TILE_BYTES: usize = 32 << TILE_HEIGHT;

/// (tile level, tile index).
pub(crate) type TileKey = (u32, u64);

/// The last tile of each tile level of a log of `size` leaves that holds
/// anything, and how many hashes it holds (1 to 31: full ones are not the
/// right edge).
pub(crate) fn edge_tiles(size: u64) -> Vec<(TileKey, usize)> {
    let mut out = Vec::new();
    let (mut n, mut t) = (size, 0u32);
    while n > 0 {
        let w = (n % TILE_WIDTH) as usize;
        if w > 0 {
            out.push(((t, n / TILE_WIDTH), w));
        }
        n /= TILE_WIDTH;
        t += 1;
    }
    out
}

/// Where the perfect subtree `(level, idx)` lies: its tile, and the range
/// of that tile's hashes it is the root of.
pub(crate) fn locate(level: u32, idx: u64) -> (TileKey, std::ops::Range<usize>) {
    let (t, r) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
    let first = idx << r;
    let off = (first % TILE_WIDTH) as usize;
    ((t, first / TILE_WIDTH), off..off + (1 << r))
}

/// The perfect subtree `(level, idx)` from its tile's bytes; None if the
/// tile does not hold all of it.
pub(crate) fn node_in_tile(tile: &[u8], level: u32, idx: u64) -> Option<Hash> {
    let (_, range) = locate(level, idx);
    hash_up(tile.get(range.start * 32..range.end * 32)?)
}

/// The root of a power-of-two run of hashes laid end to end (at most one
/// tile's).
fn hash_up(bytes: &[u8]) -> Option<Hash> {
    let mut buf = [[0u8; 32]; TILE_WIDTH as usize];
    let mut n = 0usize;
    for (slot, h) in buf.iter_mut().zip(bytes.chunks_exact(32)) {
        slot.copy_from_slice(h);
        n += 1;
    }
    if n == 0 || !n.is_power_of_two() || n * 32 != bytes.len() {
        return None;
    }
    while n > 1 {
        for i in 0..n / 2 {
            buf[i] = merkle::node_hash(&buf[2 * i], &buf[2 * i + 1]);
        }
        n /= 2;
    }
    Some(buf[0])
}

/// The right edge of the stored tree while leaves are appended: the last
/// tile of every level, and the tiles the appends changed.
pub(crate) struct Edge {
    /// Per tile level: the index of its last tile, that tile's bytes, and
    /// whether an append changed it.
    levels: Vec<(u64, Vec<u8>, bool)>,
    /// Tiles the appends filled, in the order they filled.
    full: Vec<(TileKey, Vec<u8>)>,
}

impl Edge {
    /// From the tiles `edge_tiles(size)` names, as read; None if one is
    /// missing or not the length it should be.
    pub(crate) fn new(size: u64, mut stored: HashMap<TileKey, Vec<u8>>) -> Option<Self> {
        let mut levels = Vec::new();
        let mut n = size;
        loop {
            let t = u32::try_from(levels.len()).ok()?;
            let (idx, w) = (n / TILE_WIDTH, (n % TILE_WIDTH) as usize);
            let bytes = if w == 0 {
                Vec::with_capacity(TILE_BYTES)
            } else {
                stored.remove(&(t, idx))?
            };
            if bytes.len() != w * 32 {
                return None;
            }
            levels.push((idx, bytes, false));
            n /= TILE_WIDTH;
            if n == 0 {
                return Some(Self {
                    levels,
                    full: Vec::new(),
                });
            }
        }
    }

    /// Appends a leaf: into the last tile of level 0, and each tile it
    /// fills passes its root up to the level above.
    pub(crate) fn push(&mut self, leaf: Hash) {
        let (mut h, mut t) = (leaf, 0usize);
        loop {
            if t == self.levels.len() {
                self.levels.push((0, Vec::with_capacity(TILE_BYTES), false));
            }
            let (idx, bytes, changed) = &mut self.levels[t];
            bytes.extend_from_slice(&h);
            *changed = true;
            if bytes.len() < TILE_BYTES {
                return;
            }
            let Some(root) = hash_up(bytes) else { return };
            let done = std::mem::replace(bytes, Vec::with_capacity(TILE_BYTES));
            self.full.push(((t as u32, *idx), done));
            *idx += 1;
            *changed = false;
            h = root;
            t += 1;
        }
    }

    /// The tiles to write (insert or replace): those filled, then the
    /// changed last tiles.
    pub(crate) fn into_changed(self) -> Vec<(TileKey, Vec<u8>)> {
        let mut out = self.full;
        for (t, (idx, bytes, changed)) in self.levels.into_iter().enumerate() {
            if changed && !bytes.is_empty() {
                out.push(((t as u32, idx), bytes));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use precinct_audit::merkle::{inclusion_proof, root, MemoryLog, NodeSource};

    /// Subtree hashes answered from a map of tiles, as the store does.
    struct Tiles<'a>(&'a HashMap<TileKey, Vec<u8>>);

    impl NodeSource for Tiles<'_> {
        fn perfect(&mut self, level: u32, index: u64) -> Hash {
            let (key, _) = locate(level, index);
            self.0
                .get(&key)
                .and_then(|t| node_in_tile(t, level, index))
                .unwrap_or([0; 32])
        }
    }

    #[test]
    fn tiles_answer_as_the_tree_does() {
        // Appended in batches of varying size, each from the edge as
        // stored, across two tile levels' boundaries (32 and 1,024).
        let mut stored: HashMap<TileKey, Vec<u8>> = HashMap::new();
        let mut log = MemoryLog::default();
        let mut size = 0u64;
        for batch in (1..60u64).map(|b| b * 7 % 61) {
            let edge_keys = edge_tiles(size);
            let edge_rows = edge_keys
                .iter()
                .map(|(k, _)| (*k, stored[k].clone()))
                .collect();
            let mut edge = Edge::new(size, edge_rows).unwrap_or_else(|| panic!("edge {size}"));
            for i in size..size + batch {
                let leaf = merkle::leaf_hash(&i.to_be_bytes());
                edge.push(leaf);
                log.append_leaf_hash(leaf);
            }
            size += batch;
            stored.extend(edge.into_changed());
            let mut tiles = Tiles(&stored);
            assert_eq!(root(&mut tiles, size), log.root_at(size), "root {size}");
            for i in [0, size / 3, size - 1] {
                assert_eq!(
                    inclusion_proof(&mut tiles, i, size),
                    log.inclusion_proof(i, size),
                    "proof {i} in {size}"
                );
            }
        }
        assert!(size > 1024, "{size}");
        assert_eq!(stored[&(2, 0)].len(), 32);
        // An edge tile of the wrong length is refused.
        let mut short = stored.clone();
        if let Some(((k, _), _)) = edge_tiles(size).first().map(|e| (e, ())) {
            short.insert(*k, vec![0; 32 * 40]);
        }
        let rows = edge_tiles(size)
            .iter()
            .map(|(k, _)| (*k, short[k].clone()))
            .collect();
        assert!(Edge::new(size, rows).is_none());
    }

    #[test]
    fn subtrees_lie_in_one_tile() {
        assert_eq!(locate(0, 33), ((0, 1), 1..2));
        assert_eq!(locate(3, 5), ((0, 1), 8..16));
        assert_eq!(locate(5, 3), ((1, 0), 3..4));
        assert_eq!(locate(9, 1), ((1, 0), 16..32));
        assert_eq!(locate(9, 2), ((1, 1), 0..16));
        assert_eq!(edge_tiles(0), vec![]);
        assert_eq!(edge_tiles(32), vec![((1, 0), 1)]);
        assert_eq!(edge_tiles(33), vec![((0, 1), 1), ((1, 0), 1)]);
        assert_eq!(edge_tiles(1024), vec![((2, 0), 1)]);
        assert!(hash_up(&[0; 96]).is_none());
    }
}
