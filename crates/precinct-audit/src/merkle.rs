//! RFC 6962 / RFC 9162 Merkle tree hashing: leaf = SHA-256(0x00 ‖ entry),
//! node = SHA-256(0x01 ‖ left ‖ right); proofs and their verification.
//!
//! Proofs are computed from *perfect subtrees*: the hash of leaves
//! `[index·2^level, (index+1)·2^level)`, which a log stores as it grows. The
//! proof algorithms ask a `NodeSource` for exactly the perfect subtrees they
//! need, so a store can fetch them all in one query (`required_nodes`).

use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub type Hash = [u8; 32];

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Perfect subtree hashes by (level, index).
pub trait NodeSource {
    fn perfect(&mut self, level: u32, index: u64) -> Hash;
}

impl NodeSource for HashMap<(u32, u64), Hash> {
    fn perfect(&mut self, level: u32, index: u64) -> Hash {
        self.get(&(level, index)).copied().unwrap_or([0; 32])
    }
}

/// Records which nodes an algorithm asks for (and answers zeros).
#[derive(Default)]
struct Recorder(Vec<(u32, u64)>);

impl NodeSource for Recorder {
    fn perfect(&mut self, level: u32, index: u64) -> Hash {
        if !self.0.contains(&(level, index)) {
            self.0.push((level, index));
        }
        [0; 32]
    }
}

/// Largest power of two strictly smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `[start, start + len)`, `len ≥ 1`, as RFC 6962 builds it.
fn range_hash(src: &mut dyn NodeSource, start: u64, len: u64) -> Hash {
    if len.is_power_of_two() && start.is_multiple_of(len) {
        return src.perfect(len.trailing_zeros(), start / len);
    }
    let k = split(len);
    let l = range_hash(src, start, k);
    let r = range_hash(src, start + k, len - k);
    node_hash(&l, &r)
}

/// The root of a tree of `size` leaves.
pub fn root(src: &mut dyn NodeSource, size: u64) -> Hash {
    if size == 0 {
        empty_root()
    } else {
        range_hash(src, 0, size)
    }
}

fn path(src: &mut dyn NodeSource, m: u64, start: u64, n: u64, out: &mut Vec<Hash>) {
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(src, m, start, k, out);
        out.push(range_hash(src, start + k, n - k));
    } else {
        path(src, m - k, start + k, n - k, out);
        out.push(range_hash(src, start, k));
    }
}

/// Inclusion proof (audit path) for leaf `index` in a tree of `size`.
pub fn inclusion_proof(src: &mut dyn NodeSource, index: u64, size: u64) -> Option<Vec<Hash>> {
    if index >= size {
        return None;
    }
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out);
    Some(out)
}

fn subproof(
    src: &mut dyn NodeSource,
    m: u64,
    start: u64,
    n: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) {
    if m == n {
        if !complete {
            out.push(range_hash(src, start, n));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, k, complete, out);
        out.push(range_hash(src, start + k, n - k));
    } else {
        subproof(src, m - k, start + k, n - k, false, out);
        out.push(range_hash(src, start, k));
    }
}

/// Consistency proof from a tree of `old` leaves to one of `new` leaves.
pub fn consistency_proof(src: &mut dyn NodeSource, old: u64, new: u64) -> Option<Vec<Hash>> {
    if old > new {
        return None;
    }
    let mut out = Vec::new();
    if old > 0 && old < new {
        subproof(src, old, 0, new, true, &mut out);
    }
    Some(out)
}

/// The perfect subtrees an inclusion proof (`Some(index)`) or a consistency
/// proof from `old` will read, plus those of the root of `size`.
pub fn required_nodes(index: Option<u64>, old: Option<u64>, size: u64) -> Vec<(u32, u64)> {
    let mut rec = Recorder::default();
    if let Some(i) = index {
        inclusion_proof(&mut rec, i, size);
    }
    if let Some(o) = old {
        consistency_proof(&mut rec, o, size);
    }
    if size > 0 {
        root(&mut rec, size);
    }
    rec.0
}

/// Recomputes the root from a leaf hash and its inclusion proof (RFC 9162
/// §2.1.3.2); None when the proof does not fit the index and size.
pub fn root_from_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    root_from_inclusion(index, size, leaf, proof).is_some_and(|r| &r == root)
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix
/// of the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty();
    }
    let mut nodes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        nodes.push(*old_root);
    }
    nodes.extend_from_slice(proof);
    let Some((first, rest)) = nodes.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &fr == old_root && &sr == new_root
}

/// The perfect subtrees completed by appending the leaf at `index` whose
/// hash is `leaf`: level 0 itself, then each level whose right child it
/// completes. `left_sibling(level, index)` gives the stored left siblings.
pub fn completed_nodes(
    index: u64,
    leaf: Hash,
    mut left_sibling: impl FnMut(u32, u64) -> Option<Hash>,
) -> Option<Vec<(u32, u64, Hash)>> {
    let mut out = vec![(0, index, leaf)];
    let (mut level, mut idx, mut h) = (0u32, index, leaf);
    while idx & 1 == 1 {
        let left = left_sibling(level, idx - 1)?;
        h = node_hash(&left, &h);
        level += 1;
        idx >>= 1;
        out.push((level, idx, h));
    }
    Some(out)
}

/// The right edge of a growing tree: enough to append and to compute the
/// current root, in O(log n) memory. For streaming verification.
#[derive(Debug, Default, Clone)]
pub struct CompactRange {
    /// (level, hash) of perfect subtrees, largest first.
    stack: Vec<(u32, Hash)>,
    size: u64,
}

impl CompactRange {
    pub fn append(&mut self, leaf: Hash) {
        self.push_subtree(0, leaf);
    }

    /// Appends a whole perfect subtree of 2^level leaves, given its hash.
    /// The tree's size must be a multiple of 2^level (as it is when the
    /// subtrees come from a compact range of a range that starts there).
    pub fn push_subtree(&mut self, level: u32, hash: Hash) {
        let mut item = (level, hash);
        while let Some(&(l, left)) = self.stack.last() {
            if l != item.0 {
                break;
            }
            self.stack.pop();
            item = (l + 1, node_hash(&left, &item.1));
        }
        self.stack.push(item);
        self.size += 1u64 << level;
    }

    /// The perfect subtrees, largest first, as (level, hash).
    pub fn subtrees(&self) -> &[(u32, Hash)] {
        &self.stack
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut r)) = it.next() else {
            return empty_root();
        };
        for (_, left) in it {
            r = node_hash(left, &r);
        }
        r
    }
}

/// An in-memory log: every perfect subtree, as a store would keep them.
#[derive(Debug, Default, Clone)]
pub struct MemoryLog {
    nodes: HashMap<(u32, u64), Hash>,
    size: u64,
}

impl MemoryLog {
    pub fn append(&mut self, entry: &[u8]) {
        self.append_leaf_hash(leaf_hash(entry));
    }
    pub fn append_leaf_hash(&mut self, leaf: Hash) {
        let nodes = &self.nodes;
        if let Some(done) = completed_nodes(self.size, leaf, |l, i| nodes.get(&(l, i)).copied()) {
            for (l, i, h) in done {
                self.nodes.insert((l, i), h);
            }
            self.size += 1;
        }
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn root(&mut self) -> Hash {
        let size = self.size;
        root(&mut self.nodes, size)
    }
    pub fn root_at(&mut self, size: u64) -> Hash {
        root(&mut self.nodes, size)
    }
    pub fn inclusion_proof(&mut self, index: u64, size: u64) -> Option<Vec<Hash>> {
        if size > self.size {
            return None;
        }
        inclusion_proof(&mut self.nodes, index, size)
    }
    pub fn consistency_proof(&mut self, old: u64, new: u64) -> Option<Vec<Hash>> {
        if new > self.size {
            return None;
        }
        consistency_proof(&mut self.nodes, old, new)
    }
}

#[cfg(test)]
mod tests {
    //! The RFC 6962 test tree as published with transparency-dev/merkle
    //! (proof/verify_test.go): eight leaves, every root, and known proofs.
    use super::*;

    fn h(s: &str) -> Hash {
        let v = hex::decode(s).expect("hex");
        v.try_into().expect("32 bytes")
    }

    #[test]
    fn compact_ranges_of_aligned_chunks_join_to_the_same_roots() {
        let leaves: Vec<Hash> = (0u32..100).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut whole = CompactRange::default();
        let mut roots = Vec::new();
        for l in &leaves {
            whole.append(*l);
            roots.push(whole.root());
        }
        // Chunks of 16 from 0, each with its own range, joined in order;
        // a prefix of a chunk joined to the tree before it gives that size's root.
        let mut joined = CompactRange::default();
        for chunk in leaves.chunks(16) {
            let mut part = CompactRange::default();
            for l in chunk {
                part.append(*l);
                let mut at = joined.clone();
                for &(level, hash) in part.subtrees() {
                    at.push_subtree(level, hash);
                }
                assert_eq!(at.root(), roots[(at.size() - 1) as usize]);
            }
            for &(level, hash) in part.subtrees() {
                joined.push_subtree(level, hash);
            }
        }
        assert_eq!((joined.size(), joined.root()), (100, whole.root()));
    }

    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    /// (leaf number from 1, tree size, proof)
    const INCLUSION: [(u64, u64, &[&str]); 4] = [
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            3,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            2,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];

    fn test_log() -> MemoryLog {
        let mut log = MemoryLog::default();
        for l in LEAVES {
            log.append(&hex::decode(l).expect("hex"));
        }
        log
    }

    #[test]
    fn compact_range_roots_match() {
        let mut c = CompactRange::default();
        assert_eq!(c.root(), empty_root());
        for (i, l) in LEAVES.iter().enumerate() {
            c.append(leaf_hash(&hex::decode(l).expect("hex")));
            assert_eq!(c.root(), h(ROOTS[i]), "size {}", i + 1);
        }
    }

    #[test]
    fn roots_match_the_published_vectors() {
        let mut log = test_log();
        assert_eq!(
            log.root_at(0),
            h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        for (i, r) in ROOTS.iter().enumerate() {
            assert_eq!(log.root_at(i as u64 + 1), h(r), "root of size {}", i + 1);
        }
    }

    #[test]
    fn inclusion_proofs_match_and_verify() {
        let mut log = test_log();
        for (leaf, size, proof) in INCLUSION {
            let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
            let got = log.inclusion_proof(leaf - 1, size).expect("proof");
            assert_eq!(got, want, "leaf {leaf} size {size}");
            let lh = leaf_hash(&hex::decode(LEAVES[(leaf - 1) as usize]).expect("hex"));
            let root = h(ROOTS[(size - 1) as usize]);
            assert!(verify_inclusion(leaf - 1, size, &lh, &want, &root));
            // Corruptions are caught.
            assert!(!verify_inclusion(leaf, size, &lh, &want, &root) || leaf == size);
            assert!(!verify_inclusion(leaf - 1, size * 2, &lh, &want, &root));
            assert!(!verify_inclusion(
                leaf - 1,
                size,
                &leaf_hash(b"WrongLeaf"),
                &want,
                &root
            ));
            let mut extra = want.clone();
            extra.push(root);
            assert!(!verify_inclusion(leaf - 1, size, &lh, &extra, &root));
            for i in 0..want.len() {
                let mut bad = want.clone();
                bad[i][0] ^= 8;
                assert!(!verify_inclusion(leaf - 1, size, &lh, &bad, &root));
            }
            if !want.is_empty() {
                assert!(!verify_inclusion(
                    leaf - 1,
                    size,
                    &lh,
                    &want[..want.len() - 1],
                    &root
                ));
            }
        }
    }

    #[test]
    fn consistency_proofs_match_and_verify() {
        let mut log = test_log();
        for (old, new, proof) in CONSISTENCY {
            let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
            assert_eq!(
                log.consistency_proof(old, new).expect("proof"),
                want,
                "{old}->{new}"
            );
            let (r1, r2) = (h(ROOTS[(old - 1) as usize]), h(ROOTS[(new - 1) as usize]));
            assert!(
                verify_consistency(old, new, &r1, &r2, &want),
                "{old}->{new}"
            );
            if want.is_empty() {
                continue;
            }
            assert!(!verify_consistency(old, new, &r2, &r1, &want));
            assert!(!verify_consistency(old - 1, new, &r1, &r2, &want));
            assert!(!verify_consistency(old, new * 2, &r1, &r2, &want));
            assert!(!verify_consistency(old, new, &r1, &r2, &[]));
            assert!(!verify_consistency(
                old,
                new,
                &r1,
                &r2,
                &want[..want.len() - 1]
            ));
            for i in 0..want.len() {
                let mut bad = want.clone();
                bad[i][0] ^= 16;
                assert!(!verify_consistency(old, new, &r1, &r2, &bad));
            }
        }
    }

    #[test]
    fn every_proof_of_a_larger_log_verifies() {
        let mut log = MemoryLog::default();
        for i in 0..70u32 {
            log.append(&i.to_be_bytes());
        }
        for size in 1..=70 {
            let root = log.root_at(size);
            for index in 0..size {
                let p = log.inclusion_proof(index, size).expect("proof");
                let lh = leaf_hash(&(index as u32).to_be_bytes());
                assert!(
                    verify_inclusion(index, size, &lh, &p, &root),
                    "{index}/{size}"
                );
            }
            for old in 1..=size {
                let p = log.consistency_proof(old, size).expect("proof");
                assert!(
                    verify_consistency(old, size, &log.root_at(old), &root, &p),
                    "{old}->{size}"
                );
            }
        }
        // The recorder names exactly what the proofs read.
        let need = required_nodes(Some(37), Some(20), 70);
        assert!(need.len() < 20, "{need:?}");
        let mut only: HashMap<(u32, u64), Hash> = HashMap::new();
        for (l, i) in need {
            only.insert((l, i), log.nodes[&(l, i)]);
        }
        assert_eq!(
            inclusion_proof(&mut only, 37, 70),
            log.inclusion_proof(37, 70)
        );
        assert_eq!(
            consistency_proof(&mut only, 20, 70),
            log.consistency_proof(20, 70)
        );
        assert_eq!(root(&mut only, 70), log.root_at(70));
    }
}
