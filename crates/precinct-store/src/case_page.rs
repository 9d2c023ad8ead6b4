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
};
use crate::org::{unit_from_row, UNIT_COLUMNS};
use crate::rows::{opt_text, Cols, Param, Query};
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

// Each row of a case's material brings the name of the user it mentions
// (`mentioned_name`), read as the row is: the names cost no second pass
// over the same tables.
const MEMBER_NAMES: &str = "SELECT u.id, u.display_name FROM case_members m \
     JOIN users u ON u.id = m.user_id WHERE m.case_id = $1";
const TASKS_NAMED: &str =
    "SELECT t.id, t.case_id, t.title, t.assignee_id, t.due_at, t.done_at, t.created_by, t.created_at, \
     u.display_name AS mentioned_name \
     FROM case_tasks t LEFT JOIN users u ON u.id = t.assignee_id WHERE t.case_id = $1 ORDER BY t.created_at, t.id";
const TIMELINE_NAMED: &str = "SELECT t.at, t.actor_id, t.what, t.detail, u.display_name AS mentioned_name \
     FROM case_timeline t LEFT JOIN users u ON u.id = t.actor_id WHERE t.case_id = $1 ORDER BY t.at, t.id";

fn name_of(row: &dyn Cols) -> Result<(UserId, String)> {
    Ok((parse(&text(row, "id")?)?, text(row, "display_name")?))
}

/// The user a row names in `id_col`, with the name the row brought.
fn mentioned(row: &dyn Cols, id_col: &str, names: &mut HashMap<UserId, String>) -> Result<()> {
    if let (Some(id), Some(name)) = (opt_text(row, id_col)?, opt_text(row, "mentioned_name")?) {
        names.insert(parse(&id)?, name);
    }
    Ok(())
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
        let documents: String = DOCUMENT_COLUMNS
            .split(", ")
            .map(|c| format!("d.{c}, "))
            .collect();
        let mut queries = vec![
            Query::new(PEOPLE_OF_CASE, vec![key.clone()]),
            Query::new(
                format!(
                    "SELECT {documents}u.display_name AS mentioned_name FROM documents d \
                     LEFT JOIN users u ON u.id = d.author_id WHERE d.case_id = $1 ORDER BY d.created_at, d.id"
                ),
                vec![key.clone()],
            ),
            Query::new(TASKS_NAMED, vec![key.clone()]),
            Query::new(TIMELINE_NAMED, vec![key.clone()]),
            Query::new(MEMBER_NAMES, vec![key]),
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
                1 => {
                    m.documents.push(document_from_row(row)?);
                    mentioned(row, "author_id", &mut m.names)?;
                }
                2 => {
                    m.tasks.push(task_from_row(row)?);
                    mentioned(row, "assignee_id", &mut m.names)?;
                }
                3 => {
                    m.timeline.push(timeline_from_row(row)?);
                    mentioned(row, "actor_id", &mut m.names)?;
                }
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
