//! Cases and what belongs to them: members, people, documentation (with
//! encrypted attachment bytes), tasks, the timeline, break-glass openings
//! and the full-text index. Every change commits with its audit events and
//! its timeline line.

use crate::rows::Cols;
use precinct_audit::event::AuditEvent;
use precinct_domain::case::{
    Case, CaseMember, CaseNumber, CaseStatus, CaseTask, Classification, Membership, TimelineEntry,
};
use precinct_domain::document::{AttachmentMeta, Document, DocumentKind};
use precinct_domain::ids::{CaseId, DocumentId, TaskId, UnitId, UserId};
use precinct_domain::person::{CasePerson, Identity, PersonFlags, PersonRole};
use precinct_domain::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

use crate::search::{index_text, reindex_scope, TextKind};
use crate::{
    flag, int, opt_int, opt_text, parse, text, Engine, Result, Store, StoreError, WriteTx,
};

/// A new case; its number is given by the store.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub id: CaseId,
    pub title: String,
    pub offense: String,
    pub classification: Classification,
    pub unit: UnitId,
    pub narrative: String,
    pub due: Option<Timestamp>,
    pub members: Vec<CaseMember>,
    pub created_by: UserId,
}

/// A timeline line to write with a change.
#[derive(Debug, Clone)]
pub struct Line {
    pub actor: Option<UserId>,
    pub what: &'static str,
    pub detail: String,
}

/// Encrypted attachment bytes.
#[derive(Debug, Clone)]
pub struct SealedBlob {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// A break-glass opening, for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    pub id: String,
    pub case_id: CaseId,
    pub user: UserId,
    pub reason: String,
    pub at: Timestamp,
    pub audit_event_id: String,
    pub reviewed_by: Option<UserId>,
    pub reviewed_at: Option<Timestamp>,
}

pub(crate) const CASE_COLUMNS: &str = "id, year, seq, title, offense, status, status_before_seal, classification, unit_id, narrative, due_at, created_by, created_at, updated_at";

pub(crate) fn case_from_row(row: &(impl Cols + ?Sized), members: Vec<CaseMember>) -> Result<Case> {
    Ok(Case {
        id: parse(&text(row, "id")?)?,
        number: CaseNumber::new(int(row, "year")?, int(row, "seq")?)?,
        title: text(row, "title")?,
        offense: text(row, "offense")?,
        status: CaseStatus::parse(&text(row, "status")?)?,
        status_before_seal: opt_text(row, "status_before_seal")?
            .map(|s| CaseStatus::parse(&s))
            .transpose()?,
        classification: Classification::parse(&text(row, "classification")?)?,
        unit: parse(&text(row, "unit_id")?)?,
        narrative: text(row, "narrative")?,
        due: opt_int(row, "due_at")?.map(Timestamp::from_micros),
        members,
        created_by: parse(&text(row, "created_by")?)?,
        created_at: Timestamp::from_micros(int(row, "created_at")?),
        updated_at: Timestamp::from_micros(int(row, "updated_at")?),
    })
}

pub(crate) fn member_from_row(row: &(impl Cols + ?Sized)) -> Result<(CaseId, CaseMember)> {
    Ok((
        parse(&text(row, "case_id")?)?,
        CaseMember {
            user: parse(&text(row, "user_id")?)?,
            membership: Membership::parse(&text(row, "membership")?)?,
            named: flag(row, "named")?,
        },
    ))
}

pub(crate) const DOCUMENT_COLUMNS: &str = "id, case_id, kind, classification, title, body, author_id, created_at, amends_id, filename, media_type, size, sha256";

pub(crate) fn document_from_row(row: &(impl Cols + ?Sized)) -> Result<Document> {
    let attachment = match opt_text(row, "sha256")? {
        Some(sha256) => Some(AttachmentMeta {
            filename: opt_text(row, "filename")?.unwrap_or_default(),
            media_type: opt_text(row, "media_type")?.unwrap_or_default(),
            size: u64::try_from(opt_int(row, "size")?.unwrap_or_default()).unwrap_or_default(),
            sha256,
        }),
        None => None,
    };
    Ok(Document {
        id: parse(&text(row, "id")?)?,
        case_id: parse(&text(row, "case_id")?)?,
        kind: DocumentKind::parse(&text(row, "kind")?)?,
        classification: Classification::parse(&text(row, "classification")?)?,
        title: text(row, "title")?,
        body: text(row, "body")?,
        author: parse(&text(row, "author_id")?)?,
        created_at: Timestamp::from_micros(int(row, "created_at")?),
        amends: opt_text(row, "amends_id")?.map(|s| parse(&s)).transpose()?,
        attachment,
    })
}

pub(crate) fn person_from_row(row: &(impl Cols + ?Sized)) -> Result<CasePerson> {
    Ok(CasePerson {
        id: parse(&text(row, "id")?)?,
        case_id: parse(&text(row, "case_id")?)?,
        role: PersonRole::parse(&text(row, "role")?)?,
        flags: PersonFlags {
            juvenile: flag(row, "juvenile")?,
            protected_witness: flag(row, "protected_witness")?,
            confidential_informant: flag(row, "confidential_informant")?,
        },
        identity: Identity {
            name: text(row, "name")?,
            address: opt_text(row, "address")?,
            phone: opt_text(row, "phone")?,
            date_of_birth: opt_text(row, "date_of_birth")?,
        },
    })
}

pub(crate) const PEOPLE_OF_CASE: &str =
    "SELECT id, case_id, role, juvenile, protected_witness, confidential_informant, name, address, phone, date_of_birth \
     FROM case_people WHERE case_id = $1 ORDER BY added_at, id";
pub(crate) const TASKS_OF_CASE: &str =
    "SELECT id, case_id, title, assignee_id, due_at, done_at, created_by, created_at \
     FROM case_tasks WHERE case_id = $1 ORDER BY created_at, id";
pub(crate) const TIMELINE_OF_CASE: &str =
    "SELECT at, actor_id, what, detail FROM case_timeline WHERE case_id = $1 ORDER BY at, id";

pub(crate) fn task_from_row(r: &(impl Cols + ?Sized)) -> Result<CaseTask> {
    Ok(CaseTask {
        id: parse(&text(r, "id")?)?,
        case_id: parse(&text(r, "case_id")?)?,
        title: text(r, "title")?,
        assignee: opt_text(r, "assignee_id")?.map(|s| parse(&s)).transpose()?,
        due: opt_int(r, "due_at")?.map(Timestamp::from_micros),
        done_at: opt_int(r, "done_at")?.map(Timestamp::from_micros),
        created_by: parse(&text(r, "created_by")?)?,
        created_at: Timestamp::from_micros(int(r, "created_at")?),
    })
}

pub(crate) fn timeline_from_row(r: &(impl Cols + ?Sized)) -> Result<TimelineEntry> {
    Ok(TimelineEntry {
        at: Timestamp::from_micros(int(r, "at")?),
        actor: opt_text(r, "actor_id")?.map(|s| parse(&s)).transpose()?,
        what: text(r, "what")?,
        detail: text(r, "detail")?,
    })
}

/// `$start, $start+1, ...` for `n` values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn insert_line(
    tx: &mut WriteTx,
    case: CaseId,
    now: Timestamp,
    line: &Line,
) -> Result<()> {
    sqlx::query("INSERT INTO case_timeline (id, case_id, at, actor_id, what, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(case.to_string())
        .bind(now.as_micros())
        .bind(line.actor.map(|a| a.to_string()))
        .bind(line.what)
        .bind(line.detail.clone())
        .execute(&mut **tx)
        .await?;
    // The case's last change, and its copy on each membership ("my cases").
    for sql in [
        "UPDATE cases SET updated_at = $1 WHERE id = $2",
        "UPDATE case_members SET case_updated_at = $1 WHERE case_id = $2",
    ] {
        sqlx::query(sql)
            .bind(now.as_micros())
            .bind(case.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn fk_or(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::conflict_on_unique(e, "case member"),
    }
}

impl Store {
    /// Opens a case with the next number of `now`'s year.
    pub async fn create_case(
        &self,
        new: &NewCase,
        now: Timestamp,
        line: &Line,
        events: &[AuditEvent],
    ) -> Result<CaseNumber> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO case_counters (year, last) VALUES ($1, 1) \
             ON CONFLICT (year) DO UPDATE SET last = case_counters.last + 1 RETURNING last",
        )
        .bind(now.year())
        .fetch_one(&mut *tx)
        .await?;
        let number = CaseNumber::new(now.year(), row.try_get::<i64, _>(0)?)?;
        sqlx::query(&format!(
            "INSERT INTO cases ({CASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11, $12, $12)"
        ))
        .bind(new.id.to_string())
        .bind(i64::from(number.year))
        .bind(i64::from(number.seq))
        .bind(new.title.clone())
        .bind(new.offense.clone())
        .bind(CaseStatus::Open.as_str())
        .bind(new.classification.as_str())
        .bind(new.unit.to_string())
        .bind(new.narrative.clone())
        .bind(new.due.map(Timestamp::as_micros))
        .bind(new.created_by.to_string())
        .bind(now.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(fk_or)?;
        for m in &new.members {
            insert_member(&mut tx, new.id, m).await?;
        }
        index_text(
            &mut tx,
            new.id,
            TextKind::Case,
            &new.id.to_string(),
            &format!("{number} {}\n{}", new.title, new.narrative),
        )
        .await?;
        insert_line(&mut tx, new.id, now, line).await?;
        self.commit_with(tx, events).await?;
        Ok(number)
    }

    /// Cases by id with their members, each row's `columns` made into a
    /// case by `build`; missing ids are left out, in no order.
    pub(crate) async fn cases_as(
        &self,
        columns: &str,
        ids: &[CaseId],
        build: fn(&AnyRow, Vec<CaseMember>) -> Result<Case>,
    ) -> Result<Vec<Case>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = placeholders(1, chunk.len());
            let case_sql = format!("SELECT {columns} FROM cases WHERE id IN ({list})");
            let member_sql = format!(
                "SELECT case_id, user_id, membership, named FROM case_members WHERE case_id IN ({list})"
            );
            let mut q = sqlx::query(&case_sql);
            let mut m = sqlx::query(&member_sql);
            for id in chunk {
                q = q.bind(id.to_string());
                m = m.bind(id.to_string());
            }
            let mut members: HashMap<CaseId, Vec<CaseMember>> = HashMap::new();
            for row in m.fetch_all(&self.pool).await? {
                let (case, member) = member_from_row(&row)?;
                members.entry(case).or_default().push(member);
            }
            for row in q.fetch_all(&self.pool).await? {
                let id: CaseId = parse(&text(&row, "id")?)?;
                out.push(build(&row, members.remove(&id).unwrap_or_default())?);
            }
        }
        Ok(out)
    }

    /// Cases by id, with their members; missing ids are left out.
    pub async fn cases(&self, ids: &[CaseId]) -> Result<Vec<Case>> {
        let mut out = self.cases_as(CASE_COLUMNS, ids, case_from_row).await?;
        let order: HashMap<CaseId, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        out.sort_by_key(|c| order.get(&c.id).copied().unwrap_or(usize::MAX));
        Ok(out)
    }

    pub async fn case(&self, id: CaseId) -> Result<Case> {
        self.cases(&[id]).await?.pop().ok_or(StoreError::NotFound)
    }

    pub async fn case_id_by_number(&self, number: CaseNumber) -> Result<CaseId> {
        let row = sqlx::query("SELECT id FROM cases WHERE year = $1 AND seq = $2")
            .bind(i64::from(number.year))
            .bind(i64::from(number.seq))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        parse(&text(&row, "id")?)
    }

    /// The cases a user is connected to, most recently changed first.
    pub async fn case_ids_of_user(&self, user: UserId, limit: i64) -> Result<Vec<CaseId>> {
        sqlx::query(
            "SELECT case_id AS id FROM case_members \
             WHERE user_id = $1 ORDER BY case_updated_at DESC LIMIT $2",
        )
        .bind(user.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| parse(&text(r, "id")?))
        .collect()
    }

    /// The cases of some units, most recently changed first. SQLite reads
    /// the `(unit_id, updated_at)` index of each unit in the list into a
    /// bounded sort; PostgreSQL would read and sort every case of the
    /// units, so it is given the newest `limit` of each unit, merged.
    pub async fn case_ids_of_units(&self, units: &[UnitId], limit: i64) -> Result<Vec<CaseId>> {
        if units.is_empty() {
            return Ok(vec![]);
        }
        let lim = units.len() + 1;
        let sql = match self.engine {
            Engine::Sqlite => format!(
                "SELECT id FROM cases WHERE unit_id IN ({}) ORDER BY updated_at DESC LIMIT ${lim}",
                placeholders(1, units.len())
            ),
            Engine::Postgres => {
                let arms = (1..=units.len())
                    .map(|i| {
                        format!(
                            "SELECT id, updated_at FROM (SELECT id, updated_at FROM cases \
                             WHERE unit_id = ${i} ORDER BY updated_at DESC LIMIT ${lim}) AS u{i}"
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                format!("SELECT id FROM ({arms}) AS recent ORDER BY updated_at DESC LIMIT ${lim}")
            }
        };
        let mut q = sqlx::query(&sql);
        for u in units {
            q = q.bind(u.to_string());
        }
        q.bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| parse(&text(r, "id")?))
            .collect()
    }

    /// Replaces a case's members.
    pub async fn set_case_members(
        &self,
        case: CaseId,
        members: &[CaseMember],
        now: Timestamp,
        line: &Line,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM case_members WHERE case_id = $1")
            .bind(case.to_string())
            .execute(&mut *tx)
            .await?;
        for m in members {
            insert_member(&mut tx, case, m).await?;
        }
        reindex_scope(&mut tx, self.engine, case).await?;
        insert_line(&mut tx, case, now, line).await?;
        self.commit_with(tx, events).await
    }

    /// Moves a case to `to`, if it is still in `from` (a concurrent change
    /// makes this a conflict).
    #[allow(clippy::too_many_arguments)]
    pub async fn set_case_status(
        &self,
        case: CaseId,
        from: CaseStatus,
        to: CaseStatus,
        before_seal: Option<CaseStatus>,
        now: Timestamp,
        line: &Line,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE cases SET status = $1, status_before_seal = $2 WHERE id = $3 AND status = $4",
        )
        .bind(to.as_str())
        .bind(before_seal.map(CaseStatus::as_str))
        .bind(case.to_string())
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("case status"));
        }
        insert_line(&mut tx, case, now, line).await?;
        self.commit_with(tx, events).await
    }

    pub async fn add_person(
        &self,
        person: &CasePerson,
        added_by: UserId,
        now: Timestamp,
        line: &Line,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let i = &person.identity;
        sqlx::query(
            "INSERT INTO case_people (id, case_id, role, juvenile, protected_witness, confidential_informant, \
             name, address, phone, date_of_birth, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(person.id.to_string())
        .bind(person.case_id.to_string())
        .bind(person.role.as_str())
        .bind(i64::from(person.flags.juvenile))
        .bind(i64::from(person.flags.protected_witness))
        .bind(i64::from(person.flags.confidential_informant))
        .bind(i.name.clone())
        .bind(i.address.clone())
        .bind(i.phone.clone())
        .bind(i.date_of_birth.clone())
        .bind(added_by.to_string())
        .bind(now.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(fk_or)?;
        let kind = if person.flags.is_protected() {
            TextKind::ProtectedPerson
        } else {
            TextKind::Person
        };
        index_text(
            &mut tx,
            person.case_id,
            kind,
            &person.id.to_string(),
            &i.name,
        )
        .await?;
        insert_line(&mut tx, person.case_id, now, line).await?;
        self.commit_with(tx, events).await
    }

    pub async fn people(&self, case: CaseId) -> Result<Vec<CasePerson>> {
        sqlx::query(PEOPLE_OF_CASE)
            .bind(case.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(person_from_row)
            .collect()
    }

    /// Appends a documentation entry (and its encrypted bytes).
    pub async fn add_document(
        &self,
        doc: &Document,
        blob: Option<&SealedBlob>,
        line: &Line,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let a = doc.attachment.as_ref();
        sqlx::query(&format!(
            "INSERT INTO documents ({DOCUMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(doc.id.to_string())
        .bind(doc.case_id.to_string())
        .bind(doc.kind.as_str())
        .bind(doc.classification.as_str())
        .bind(doc.title.clone())
        .bind(doc.body.clone())
        .bind(doc.author.to_string())
        .bind(doc.created_at.as_micros())
        .bind(doc.amends.map(|d| d.to_string()))
        .bind(a.map(|a| a.filename.clone()))
        .bind(a.map(|a| a.media_type.clone()))
        .bind(a.map(|a| i64::try_from(a.size).unwrap_or(i64::MAX)))
        .bind(a.map(|a| a.sha256.clone()))
        .execute(&mut *tx)
        .await
        .map_err(fk_or)?;
        if let Some(b) = blob {
            sqlx::query(
                "INSERT INTO attachment_blobs (document_id, nonce, ciphertext) VALUES ($1, $2, $3)",
            )
            .bind(doc.id.to_string())
            .bind(b.nonce.clone())
            .bind(b.ciphertext.clone())
            .execute(&mut *tx)
            .await?;
        }
        let kind = if doc.classification == Classification::Restricted {
            TextKind::RestrictedDocument
        } else {
            TextKind::Document
        };
        index_text(
            &mut tx,
            doc.case_id,
            kind,
            &doc.id.to_string(),
            &format!("{}\n{}", doc.title, doc.body),
        )
        .await?;
        insert_line(&mut tx, doc.case_id, doc.created_at, line).await?;
        self.commit_with(tx, events).await
    }

    /// A case's entries, oldest first.
    pub async fn documents(&self, case: CaseId) -> Result<Vec<Document>> {
        sqlx::query(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE case_id = $1 ORDER BY created_at, id"
        ))
        .bind(case.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(document_from_row)
        .collect()
    }

    pub async fn document(&self, id: DocumentId) -> Result<Document> {
        let row = sqlx::query(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        document_from_row(&row)
    }

    pub async fn attachment_blob(&self, id: DocumentId) -> Result<SealedBlob> {
        let row =
            sqlx::query("SELECT nonce, ciphertext FROM attachment_blobs WHERE document_id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        Ok(SealedBlob {
            nonce: row.try_get("nonce")?,
            ciphertext: row.try_get("ciphertext")?,
        })
    }

    pub async fn add_task(
        &self,
        task: &CaseTask,
        line: &Line,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO case_tasks (id, case_id, title, assignee_id, due_at, done_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)",
        )
        .bind(task.id.to_string())
        .bind(task.case_id.to_string())
        .bind(task.title.clone())
        .bind(task.assignee.map(|a| a.to_string()))
        .bind(task.due.map(Timestamp::as_micros))
        .bind(task.created_by.to_string())
        .bind(task.created_at.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(fk_or)?;
        insert_line(&mut tx, task.case_id, task.created_at, line).await?;
        self.commit_with(tx, events).await
    }

    pub async fn complete_task(
        &self,
        case: CaseId,
        task: TaskId,
        now: Timestamp,
        line: &Line,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE case_tasks SET done_at = $1 WHERE id = $2 AND case_id = $3 AND done_at IS NULL",
        )
        .bind(now.as_micros())
        .bind(task.to_string())
        .bind(case.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_line(&mut tx, case, now, line).await?;
        self.commit_with(tx, events).await
    }

    pub async fn tasks(&self, case: CaseId) -> Result<Vec<CaseTask>> {
        sqlx::query(TASKS_OF_CASE)
            .bind(case.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(task_from_row)
            .collect()
    }

    pub async fn timeline(&self, case: CaseId) -> Result<Vec<TimelineEntry>> {
        sqlx::query(TIMELINE_OF_CASE)
            .bind(case.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(timeline_from_row)
            .collect()
    }

    /// Records a break-glass opening with the event that allowed it.
    pub async fn record_break_glass(
        &self,
        opening: &BreakGlass,
        line: &Line,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO break_glass (id, case_id, user_id, reason, at, audit_event_id) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(opening.id.clone())
        .bind(opening.case_id.to_string())
        .bind(opening.user.to_string())
        .bind(opening.reason.clone())
        .bind(opening.at.as_micros())
        .bind(opening.audit_event_id.clone())
        .execute(&mut *tx)
        .await
        .map_err(fk_or)?;
        insert_line(&mut tx, opening.case_id, opening.at, line).await?;
        self.commit_with(tx, events).await
    }

    /// Break-glass openings by these users, newest first.
    pub async fn break_glass_by(&self, users: &[UserId]) -> Result<Vec<BreakGlass>> {
        if users.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT id, case_id, user_id, reason, at, audit_event_id, reviewed_by, reviewed_at \
             FROM break_glass WHERE user_id IN ({}) ORDER BY at DESC LIMIT 500",
            placeholders(1, users.len())
        );
        let mut q = sqlx::query(&sql);
        for u in users {
            q = q.bind(u.to_string());
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(BreakGlass {
                    id: text(r, "id")?,
                    case_id: parse(&text(r, "case_id")?)?,
                    user: parse(&text(r, "user_id")?)?,
                    reason: text(r, "reason")?,
                    at: Timestamp::from_micros(int(r, "at")?),
                    audit_event_id: text(r, "audit_event_id")?,
                    reviewed_by: opt_text(r, "reviewed_by")?.map(|s| parse(&s)).transpose()?,
                    reviewed_at: opt_int(r, "reviewed_at")?.map(Timestamp::from_micros),
                })
            })
            .collect()
    }

    /// Marks a break-glass opening reviewed.
    pub async fn review_break_glass(
        &self,
        id: &str,
        reviewer: UserId,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE break_glass SET reviewed_by = $1, reviewed_at = $2 WHERE id = $3 AND reviewed_at IS NULL",
        )
        .bind(reviewer.to_string())
        .bind(now.as_micros())
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit_with(tx, events).await
    }
}

async fn insert_member(tx: &mut WriteTx, case: CaseId, m: &CaseMember) -> Result<()> {
    sqlx::query(
        "INSERT INTO case_members (case_id, user_id, membership, named, case_updated_at) \
         VALUES ($1, $2, $3, $4, coalesce((SELECT updated_at FROM cases WHERE id = $1), 0))",
    )
    .bind(case.to_string())
    .bind(m.user.to_string())
    .bind(m.membership.as_str())
    .bind(i64::from(m.named || m.membership == Membership::Lead))
    .execute(&mut **tx)
    .await
    .map_err(fk_or)?;
    Ok(())
}
