//! A case page's reads, each step one batch: the case with the unit tree
//! (what a decision about it needs), then what the page shows. The two
//! steps are apart so that a refusal reads no more than the case. Each
//! batch first reads where the case and the organisation stand, and reads
//! the rest only where that differs from what is kept (`kept.rs`): a case
//! read again, unchanged, costs two look-ups.

use precinct_domain::case::{Case, CaseMember, CaseTask, TimelineEntry};
use precinct_domain::document::Document;
use precinct_domain::ids::{CaseId, UnitId, UserId};
use precinct_domain::org::Unit;
use precinct_domain::person::CasePerson;
use std::collections::HashMap;
use std::sync::Arc;

use crate::cases::{
    case_from_row, document_from_row, member_from_row, person_from_row, placeholders,
    task_from_row, timeline_from_row, CASE_COLUMNS, DOCUMENT_COLUMNS, PEOPLE_OF_CASE,
    TASKS_OF_CASE, TIMELINE_OF_CASE,
};
use crate::kept::{Revisions, Served};
use crate::org::{unit_from_row, UNIT_COLUMNS};
use crate::rows::{Cols, Param, Query};
use crate::{int, parse, text, Result, Store, StoreError};

/// Every unit by its id, shared by the requests that read it at one
/// revision of the organisation.
pub type UnitsById = Arc<HashMap<UnitId, Unit>>;

/// A case as read for a request: the case with its members, every unit
/// (for the chain of command), and where both stood when read.
#[derive(Debug, Clone)]
pub struct CaseRead {
    pub case: Case,
    pub units: UnitsById,
    pub at: Revisions,
}

/// Where a case and the organisation stand: the first two statements of
/// each batch.
const CASE_REVISION: &str = "SELECT revision FROM case_revisions WHERE case_id = $1";
const ORG_REVISION: &str = "SELECT revision FROM org_revision WHERE id = 1";

/// What a case page shows besides the case itself.
#[derive(Debug, Clone, Default)]
pub struct CaseMaterial {
    pub people: Vec<CasePerson>,
    pub documents: Vec<Document>,
    pub tasks: Vec<CaseTask>,
    pub timeline: Vec<TimelineEntry>,
    /// Display names of everyone the case mentions (members, authors,
    /// assignees, actors on the timeline).
    pub names: HashMap<UserId, String>,
}

/// A case page's material, shared with the other reads of the case at the
/// same revisions, and the active users of the units asked for, with their
/// names (who may be assigned; read each time).
pub type PageMaterial = (Arc<CaseMaterial>, HashMap<UserId, String>);

const MENTIONED: &str = "SELECT id, display_name FROM users WHERE id IN (\
     SELECT user_id FROM case_members WHERE case_id = $1 \
     UNION SELECT actor_id FROM case_timeline WHERE case_id = $1 \
     UNION SELECT author_id FROM documents WHERE case_id = $1 \
     UNION SELECT assignee_id FROM case_tasks WHERE case_id = $1)";

fn name_of(row: &dyn Cols) -> Result<(UserId, String)> {
    Ok((parse(&text(row, "id")?)?, text(row, "display_name")?))
}

impl CaseMaterial {
    /// About how many bytes it takes, for what is kept.
    pub(crate) fn size(&self) -> usize {
        let people: usize = self
            .people
            .iter()
            .map(|p| {
                let i = &p.identity;
                128 + i.name.len()
                    + [&i.address, &i.phone, &i.date_of_birth]
                        .iter()
                        .map(|v| v.as_ref().map_or(0, String::len))
                        .sum::<usize>()
            })
            .sum();
        let documents: usize = self
            .documents
            .iter()
            .map(|d| 256 + d.title.len() + d.body.len())
            .sum();
        let tasks: usize = self.tasks.iter().map(|t| 128 + t.title.len()).sum();
        let timeline: usize = self
            .timeline
            .iter()
            .map(|t| 96 + t.what.len() + t.detail.len())
            .sum();
        let names: usize = self.names.values().map(|n| 64 + n.len()).sum();
        256 + people + documents + tasks + timeline + names
    }
}

impl Store {
    /// A case with its members, and every unit (for the chain of
    /// command), read together; what is kept at the revisions read is not
    /// read again.
    pub async fn case_and_units(&self, id: CaseId) -> Result<CaseRead> {
        #[derive(Default)]
        struct Found {
            case_at: Option<i64>,
            org_at: Option<i64>,
            members: Vec<CaseMember>,
            case: Option<Case>,
            units: Vec<Unit>,
        }
        let kept = self.kept.case(id);
        let units = self.kept.units();
        let known_case = kept.as_ref().map_or(-1, |k| k.revision);
        let known_org = units.as_ref().map_or(-1, |(org, _)| *org);
        let key = Param::from(id.to_string());
        let found = self
            .read_batch(
                vec![
                    Query::new(CASE_REVISION, vec![key.clone()]),
                    Query::new(ORG_REVISION, vec![]),
                    Query::new(
                        "SELECT case_id, user_id, membership, named FROM case_members WHERE case_id = $1 \
                         AND $2 <> (SELECT revision FROM case_revisions WHERE case_id = $1)",
                        vec![key.clone(), Param::from(known_case)],
                    ),
                    Query::new(
                        format!(
                            "SELECT {CASE_COLUMNS} FROM cases WHERE id = $1 \
                             AND $2 <> (SELECT revision FROM case_revisions WHERE case_id = $1)"
                        ),
                        vec![key, Param::from(known_case)],
                    ),
                    Query::new(
                        format!(
                            "SELECT {UNIT_COLUMNS} FROM units \
                             WHERE $1 <> (SELECT revision FROM org_revision WHERE id = 1) ORDER BY name"
                        ),
                        vec![Param::from(known_org)],
                    ),
                ],
                Found::default(),
                |f, i, row| {
                    match i {
                        0 => f.case_at = Some(int(row, "revision")?),
                        1 => f.org_at = Some(int(row, "revision")?),
                        2 => f.members.push(member_from_row(row)?.1),
                        3 => f.case = Some(case_from_row(row, std::mem::take(&mut f.members))?),
                        _ => f.units.push(unit_from_row(row)?),
                    }
                    Ok(())
                },
            )
            .await?;
        let at = Revisions {
            case: found.case_at.ok_or(StoreError::NotFound)?,
            org: found
                .org_at
                .ok_or_else(|| StoreError::Corrupt("the organisation has no revision".into()))?,
        };
        let case = match (found.case, kept) {
            (Some(case), _) => {
                let case = Arc::new(case);
                self.kept.keep_case(at.case, case.clone());
                case
            }
            (None, Some(kept)) if kept.revision == at.case => {
                self.kept.served(Served::Case);
                kept.case.clone()
            }
            (None, _) => {
                return Err(StoreError::Corrupt(
                    "a case's revision was read without the case".into(),
                ))
            }
        };
        let units = match units {
            Some((org, units)) if org == at.org => units,
            _ => {
                let units: UnitsById =
                    Arc::new(found.units.into_iter().map(|u| (u.id, u)).collect());
                self.kept.keep_units(at.org, units.clone());
                units
            }
        };
        Ok(CaseRead {
            case: Case::clone(&case),
            units,
            at,
        })
    }

    /// A case's people, documentation, tasks, timeline and the names they
    /// mention, as they stood at `at` if that is kept, else as they stand
    /// now; with `assignable_in`, also who may be assigned (never kept).
    pub async fn case_material(
        &self,
        id: CaseId,
        at: Revisions,
        assignable_in: &[UnitId],
    ) -> Result<PageMaterial> {
        #[derive(Default)]
        struct Found {
            at: (Option<i64>, Option<i64>),
            material: CaseMaterial,
            assignable: HashMap<UserId, String>,
        }
        let kept = self.kept.case(id).and_then(|k| k.material_at(at));
        let key = Param::from(id.to_string());
        let mut queries = vec![];
        if kept.is_none() {
            queries = vec![
                Query::new(CASE_REVISION, vec![key.clone()]),
                Query::new(ORG_REVISION, vec![]),
                Query::new(PEOPLE_OF_CASE, vec![key.clone()]),
                Query::new(
                    format!(
                        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE case_id = $1 ORDER BY created_at, id"
                    ),
                    vec![key.clone()],
                ),
                Query::new(TASKS_OF_CASE, vec![key.clone()]),
                Query::new(TIMELINE_OF_CASE, vec![key.clone()]),
                Query::new(MENTIONED, vec![key]),
            ];
        }
        // Who may be assigned: the last statement, whichever came before.
        let assignable = queries.len();
        if !assignable_in.is_empty() {
            queries.push(Query::new(
                format!(
                    "SELECT DISTINCT u.id, u.display_name FROM users u JOIN user_units m ON m.user_id = u.id \
                     WHERE u.status = 'active' AND m.unit_id IN ({})",
                    placeholders(1, assignable_in.len())
                ),
                assignable_in
                    .iter()
                    .map(|u| Param::from(u.to_string()))
                    .collect(),
            ));
        }
        let found = if queries.is_empty() {
            Found::default()
        } else {
            // The statement index, shifted so that the assignable users
            // come last whether or not the material was read.
            let shift = 7 - assignable;
            self.read_batch(queries, (shift, Found::default()), |(shift, f), i, row| {
                let m = &mut f.material;
                match i + *shift {
                    0 => f.at.0 = Some(int(row, "revision")?),
                    1 => f.at.1 = Some(int(row, "revision")?),
                    2 => m.people.push(person_from_row(row)?),
                    3 => m.documents.push(document_from_row(row)?),
                    4 => m.tasks.push(task_from_row(row)?),
                    5 => m.timeline.push(timeline_from_row(row)?),
                    6 => {
                        let (id, name) = name_of(row)?;
                        m.names.insert(id, name);
                    }
                    _ => {
                        let (id, name) = name_of(row)?;
                        f.assignable.insert(id, name);
                    }
                }
                Ok(())
            })
            .await?
            .1
        };
        let Found {
            at: read_at,
            material: read,
            assignable,
        } = found;
        let material = match kept {
            Some(kept) => {
                self.kept.served(Served::Material);
                kept
            }
            None => {
                let read = Arc::new(read);
                // Kept only if read at the revisions the case was.
                if read_at == (Some(at.case), Some(at.org)) {
                    self.kept.keep_material(id, at, read.clone());
                }
                read
            }
        };
        Ok((material, assignable))
    }
}
