//! What case reads keep between requests: a case as last read with its
//! page's material, and the unit tree, each with the revision it was read
//! at. A read compares the revisions in the transaction (on PostgreSQL,
//! the statement) it reads in, and takes what is kept only if they have not
//! moved; triggers move them with every change, whoever writes it
//! (migration 0009, docs/decisions/0008). So what is kept is never served
//! stale, on one server or several, nor after another process wrote.

use precinct_domain::case::Case;
use precinct_domain::ids::CaseId;
use std::sync::{Arc, Mutex};

use crate::case_page::{CaseMaterial, UnitsById};

/// Bytes the kept cases may take at most (about 6,000 case pages of the
/// demo department's size).
const CAPACITY_BYTES: u64 = 64 << 20;
const EXPECTED_CASES: usize = 8_192;

/// Where a case and the organisation stood when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revisions {
    pub case: i64,
    pub org: i64,
}

/// A case as kept: the case (with its members) at a revision, and the
/// page's material at that revision and an organisation's revision (the
/// names it shows are users'). Never changed once kept: a case kept again
/// is a new entry.
#[derive(Debug)]
pub(crate) struct KeptCase {
    pub revision: i64,
    pub case: Arc<Case>,
    pub material: Option<(i64, Arc<CaseMaterial>)>,
}

#[derive(Debug, Clone)]
struct Weight;

impl quick_cache::Weighter<CaseId, Arc<KeptCase>> for Weight {
    fn weight(&self, _: &CaseId, kept: &Arc<KeptCase>) -> u64 {
        let c = &kept.case;
        let case = 256 + c.title.len() + c.narrative.len() + 32 * c.members.len();
        let material = kept.material.as_ref().map_or(0, |(_, m)| m.size());
        (case + material) as u64
    }
}

/// The kept cases and units of one store.
pub(crate) struct Kept {
    cases: quick_cache::sync::Cache<CaseId, Arc<KeptCase>, Weight>,
    units: Mutex<Option<(i64, UnitsById)>>,
    /// Reads answered from what was kept: cases, and pages' material.
    served: [std::sync::atomic::AtomicU64; 2],
}

/// What a read was answered with from what was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    Case = 0,
    Material = 1,
}

/// How many reads what was kept answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeptReads {
    pub cases: u64,
    pub material: u64,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("cases", &self.cases.len())
            .finish()
    }
}

impl Default for Kept {
    fn default() -> Self {
        Self {
            cases: quick_cache::sync::Cache::with_weighter(EXPECTED_CASES, CAPACITY_BYTES, Weight),
            units: Mutex::new(None),
            served: Default::default(),
        }
    }
}

impl Kept {
    pub(crate) fn case(&self, id: CaseId) -> Option<Arc<KeptCase>> {
        self.cases.get(&id)
    }

    pub(crate) fn keep_case(&self, revision: i64, case: Arc<Case>) {
        self.cases.insert(
            case.id,
            Arc::new(KeptCase {
                revision,
                case,
                material: None,
            }),
        );
    }

    /// Keeps a case's material read at `at`, if the case is still kept at
    /// that revision.
    pub(crate) fn keep_material(&self, id: CaseId, at: Revisions, material: Arc<CaseMaterial>) {
        if let Some(kept) = self.case(id).filter(|k| k.revision == at.case) {
            self.cases.insert(
                id,
                Arc::new(KeptCase {
                    revision: at.case,
                    case: kept.case.clone(),
                    material: Some((at.org, material)),
                }),
            );
        }
    }

    /// The units kept, with the organisation's revision they were read at.
    pub(crate) fn units(&self) -> Option<(i64, UnitsById)> {
        self.units.lock().ok().and_then(|u| u.clone())
    }

    pub(crate) fn keep_units(&self, org: i64, units: UnitsById) {
        if let Ok(mut kept) = self.units.lock() {
            *kept = Some((org, units));
        }
    }

    /// How many cases are kept.
    pub(crate) fn len(&self) -> usize {
        self.cases.len()
    }

    /// Counts a read answered from what was kept.
    pub(crate) fn served(&self, what: Served) {
        self.served[what as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn reads(&self) -> KeptReads {
        let n =
            |what: Served| self.served[what as usize].load(std::sync::atomic::Ordering::Relaxed);
        KeptReads {
            cases: n(Served::Case),
            material: n(Served::Material),
        }
    }
}

impl KeptCase {
    /// The page's material, if kept at `at`.
    pub(crate) fn material_at(&self, at: Revisions) -> Option<Arc<CaseMaterial>> {
        self.material
            .as_ref()
            .filter(|(org, _)| self.revision == at.case && *org == at.org)
            .map(|(_, m)| m.clone())
    }
}
