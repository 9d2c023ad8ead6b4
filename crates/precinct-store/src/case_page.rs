//! A case page's reads, each step one batch: the case with the unit tree
//! (what a decision about it needs), then what the page shows. The two
//! steps are apart so that a refusal reads no more than the case.

use precinct_domain::case::{Case, CaseMember, CaseTask, TimelineEntry};
use precinct_domain::document::Document;
use precinct_domain::ids::{CaseId, UnitId, UserId};
use precinct_domain::org::Unit;
use precinct_domain::person::CasePerson;
use std::collections::HashMap;

use crate::cases::{
    case_from_row, document_from_row, member_from_row, person_from_row, placeholders,
    task_from_row, timeline_from_row, CASE_COLUMNS, DOCUMENT_COLUMNS, PEOPLE_OF_CASE,
    TASKS_OF_CASE, TIMELINE_OF_CASE,
};
use crate::org::{unit_from_row, UNIT_COLUMNS};
use crate::rows::{Cols, Param, Query};
use crate::{parse, text, Result, Store, StoreError};

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
    /// The active users of the units asked for, with their names.
    pub assignable: HashMap<UserId, String>,
}

const MENTIONED: &str = "SELECT id, display_name FROM users WHERE id IN (\
     SELECT user_id FROM case_members WHERE case_id = $1 \
     UNION SELECT actor_id FROM case_timeline WHERE case_id = $1 \
     UNION SELECT author_id FROM documents WHERE case_id = $1 \
     UNION SELECT assignee_id FROM case_tasks WHERE case_id = $1)";

fn name_of(row: &dyn Cols) -> Result<(UserId, String)> {
    Ok((parse(&text(row, "id")?)?, text(row, "display_name")?))
}

impl Store {
    /// A case with its members, and every unit (for the chain of
    /// command), read together.
    pub async fn case_and_units(&self, id: CaseId) -> Result<(Case, Vec<Unit>)> {
        #[derive(Default)]
        struct Found {
            members: Vec<CaseMember>,
            case: Option<Case>,
            units: Vec<Unit>,
        }
        let key = Param::from(id.to_string());
        let found = self
            .read_batch(
                vec![
                    Query::new(
                        "SELECT case_id, user_id, membership, named FROM case_members WHERE case_id = $1",
                        vec![key.clone()],
                    ),
                    Query::new(
                        format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"),
                        vec![key],
                    ),
                    Query::new(
                        format!("SELECT {UNIT_COLUMNS} FROM units ORDER BY name"),
                        vec![],
                    ),
                ],
                Found::default(),
                |f, i, row| {
                    match i {
                        0 => f.members.push(member_from_row(row)?.1),
                        1 => f.case = Some(case_from_row(row, std::mem::take(&mut f.members))?),
                        _ => f.units.push(unit_from_row(row)?),
                    }
                    Ok(())
                },
            )
            .await?;
        let case = found.case.ok_or(StoreError::NotFound)?;
        Ok((case, found.units))
    }

    /// A case's people, documentation, tasks, timeline and the names they
    /// mention; with `assignable_in`, also who may be assigned.
    pub async fn case_material(
        &self,
        id: CaseId,
        assignable_in: &[UnitId],
    ) -> Result<CaseMaterial> {
        let key = Param::from(id.to_string());
        let mut queries = vec![
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
        self.read_batch(queries, CaseMaterial::default(), |m, i, row| {
            match i {
                0 => m.people.push(person_from_row(row)?),
                1 => m.documents.push(document_from_row(row)?),
                2 => m.tasks.push(task_from_row(row)?),
                3 => m.timeline.push(timeline_from_row(row)?),
                4 => {
                    let (id, name) = name_of(row)?;
                    m.names.insert(id, name);
                }
                _ => {
                    let (id, name) = name_of(row)?;
                    m.assignable.insert(id, name);
                }
            }
            Ok(())
        })
        .await
    }
}
