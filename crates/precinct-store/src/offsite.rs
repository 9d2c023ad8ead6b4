//! Off-site work: duty status, grants and their threads, notifications,
//! compliance incidents and the paper case files. Every change commits with
//! its audit events; a step on a grant is taken only from the status it was
//! decided on (a second approver racing the first gets a conflict).

use precinct_audit::event::AuditEvent;
use precinct_domain::ids::{CaseId, DeviceId, DocumentId, UserId};
use precinct_domain::offsite::{Grant, GrantKind, GrantStatus, Incident, IncidentKind};
use precinct_domain::Timestamp;
use sqlx::any::AnyRow;

use crate::cases::{insert_line, placeholders, Line};
use crate::registry::fk_or_unique;
use crate::rows::Param;
use crate::{flag, int, opt_int, opt_text, parse, text, Result, Store, StoreError, WriteTx};

/// A line of a request's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantComment {
    pub id: String,
    pub grant_id: String,
    pub author: UserId,
    /// `comment`, or the step it went with (`approve`, `deny`, ...).
    pub step: String,
    pub body: String,
    pub at: Timestamp,
}

/// An in-app notification (and, where configured, its e-mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub user: UserId,
    pub kind: String,
    /// What it is about (a grant's id, a case's id).
    pub subject_id: Option<String>,
    pub message: String,
    pub at: Timestamp,
    pub read_at: Option<Timestamp>,
}

/// A notification whose e-mail is waiting, with where it goes.
#[derive(Debug, Clone)]
pub struct PendingMail {
    pub id: String,
    pub to_name: String,
    pub to_username: String,
    pub message: String,
    pub attempts: i64,
}

/// A step on a grant: the status it must still have, and what it becomes.
#[derive(Debug, Clone)]
pub struct GrantUpdate {
    pub from: GrantStatus,
    pub to: GrantStatus,
    pub by: UserId,
    pub at: Timestamp,
    /// Conditions of an approval, the reason of a denial.
    pub note: Option<String>,
}

/// The paper file of a case and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperFile {
    pub case_id: CaseId,
    pub location: String,
    pub holder: Option<UserId>,
    pub checked_out_at: Option<Timestamp>,
    pub due_at: Option<Timestamp>,
    pub off_premises: bool,
    pub grant_id: Option<String>,
    pub overdue_flagged: bool,
}

/// One step of a paper file's custody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyStep {
    pub id: String,
    pub case_id: CaseId,
    /// `registered`, `check_out` or `check_in`.
    pub step: String,
    pub holder: Option<UserId>,
    pub clerk: UserId,
    pub at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub off_premises: bool,
    pub grant_id: Option<String>,
}

const PAPER_SELECT: &str =
    "SELECT case_id, location, holder, checked_out_at, due_at, off_premises, \
     grant_id, overdue_flagged FROM paper_files";

const GRANT_COLUMNS: &str = "id, kind, requester, status, justification, starts_at, ends_at, \
     may_add_notes, device_id, decided_by, decided_at, decision_note, revoked_by, revoked_at, \
     reminded, reviewed_at, created_at";

fn opt_id<T: std::str::FromStr<Err = precinct_domain::DomainError>>(
    row: &AnyRow,
    col: &str,
) -> Result<Option<T>> {
    opt_text(row, col)?.map(|s| parse(&s)).transpose()
}

fn opt_time(row: &AnyRow, col: &str) -> Result<Option<Timestamp>> {
    Ok(opt_int(row, col)?.map(Timestamp::from_micros))
}

fn grant_head(row: &AnyRow) -> Result<Grant> {
    Ok(Grant {
        id: text(row, "id")?,
        kind: GrantKind::parse(&text(row, "kind")?)?,
        requester: parse(&text(row, "requester")?)?,
        status: GrantStatus::parse(&text(row, "status")?)?,
        justification: text(row, "justification")?,
        cases: vec![],
        documents: vec![],
        starts_at: Timestamp::from_micros(int(row, "starts_at")?),
        ends_at: Timestamp::from_micros(int(row, "ends_at")?),
        may_add_notes: flag(row, "may_add_notes")?,
        device: opt_id::<DeviceId>(row, "device_id")?,
        decided_by: opt_id(row, "decided_by")?,
        decided_at: opt_time(row, "decided_at")?,
        decision_note: opt_text(row, "decision_note")?,
        revoked_by: opt_id(row, "revoked_by")?,
        revoked_at: opt_time(row, "revoked_at")?,
        reminded: flag(row, "reminded")?,
        reviewed_at: opt_time(row, "reviewed_at")?,
        created_at: Timestamp::from_micros(int(row, "created_at")?),
    })
}

fn notification(row: &AnyRow) -> Result<Notification> {
    Ok(Notification {
        id: text(row, "id")?,
        user: parse(&text(row, "user_id")?)?,
        kind: text(row, "kind")?,
        subject_id: opt_text(row, "subject_id")?,
        message: text(row, "message")?,
        at: Timestamp::from_micros(int(row, "at")?),
        read_at: opt_time(row, "read_at")?,
    })
}

fn incident(row: &AnyRow) -> Result<Incident> {
    Ok(Incident {
        id: text(row, "id")?,
        kind: IncidentKind::parse(&text(row, "kind")?)?,
        user: parse(&text(row, "user_id")?)?,
        at: Timestamp::from_micros(int(row, "at")?),
        audit_event_id: text(row, "audit_event_id")?,
        case_id: opt_id(row, "case_id")?,
        grant_id: opt_text(row, "grant_id")?,
    })
}

fn paper_file(row: &AnyRow) -> Result<PaperFile> {
    Ok(PaperFile {
        case_id: parse(&text(row, "case_id")?)?,
        location: text(row, "location")?,
        holder: opt_id(row, "holder")?,
        checked_out_at: opt_time(row, "checked_out_at")?,
        due_at: opt_time(row, "due_at")?,
        off_premises: flag(row, "off_premises")?,
        grant_id: opt_text(row, "grant_id")?,
        overdue_flagged: flag(row, "overdue_flagged")?,
    })
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn insert_comment(tx: &mut WriteTx, c: &GrantComment) -> Result<()> {
    sqlx::query(
        "INSERT INTO grant_comments (id, grant_id, author, step, body, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(c.id.clone())
    .bind(c.grant_id.clone())
    .bind(c.author.to_string())
    .bind(c.step.clone())
    .bind(c.body.clone())
    .bind(c.at.as_micros())
    .execute(&mut **tx)
    .await
    .map_err(|e| fk_or_unique(e, "comment"))?;
    Ok(())
}

/// Writes notifications; `mail` marks their e-mail as waiting.
async fn insert_notifications(tx: &mut WriteTx, ns: &[Notification], mail: bool) -> Result<()> {
    for n in ns {
        sqlx::query(
            "INSERT INTO notifications (id, user_id, kind, subject_id, message, at, mail_state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(n.id.clone())
        .bind(n.user.to_string())
        .bind(n.kind.clone())
        .bind(n.subject_id.clone())
        .bind(n.message.clone())
        .bind(n.at.as_micros())
        .bind(i64::from(mail))
        .execute(&mut **tx)
        .await
        .map_err(|e| fk_or_unique(e, "notification"))?;
    }
    Ok(())
}

async fn insert_incident(tx: &mut WriteTx, i: &Incident) -> Result<()> {
    sqlx::query(
        "INSERT INTO incidents (id, kind, user_id, at, audit_event_id, case_id, grant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(i.id.clone())
    .bind(i.kind.as_str())
    .bind(i.user.to_string())
    .bind(i.at.as_micros())
    .bind(i.audit_event_id.clone())
    .bind(i.case_id.map(|c| c.to_string()))
    .bind(i.grant_id.clone())
    .execute(&mut **tx)
    .await
    .map_err(|e| fk_or_unique(e, "incident"))?;
    Ok(())
}

async fn insert_custody(tx: &mut WriteTx, s: &CustodyStep) -> Result<()> {
    sqlx::query(
        "INSERT INTO paper_file_custody (id, case_id, step, holder, clerk, at, due_at, off_premises, grant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(s.id.clone())
    .bind(s.case_id.to_string())
    .bind(s.step.clone())
    .bind(s.holder.map(|u| u.to_string()))
    .bind(s.clerk.to_string())
    .bind(s.at.as_micros())
    .bind(s.due_at.map(Timestamp::as_micros))
    .bind(i64::from(s.off_premises))
    .bind(s.grant_id.clone())
    .execute(&mut **tx)
    .await
    .map_err(|e| fk_or_unique(e, "paper file"))?;
    Ok(())
}

impl Notification {
    /// A new, unread notification now.
    pub fn new(
        user: UserId,
        kind: &str,
        subject: Option<&str>,
        message: String,
        at: Timestamp,
    ) -> Self {
        Self {
            id: new_id(),
            user,
            kind: kind.to_owned(),
            subject_id: subject.map(str::to_owned),
            message,
            at,
            read_at: None,
        }
    }
}

impl GrantComment {
    pub fn new(grant_id: &str, author: UserId, step: &str, body: String, at: Timestamp) -> Self {
        Self {
            id: new_id(),
            grant_id: grant_id.to_owned(),
            author,
            step: step.to_owned(),
            body,
            at,
        }
    }
}

impl Store {
    // ---- duty ----

    /// Clocks `user` in or out (by `by`: the user, or a supervisor's
    /// correction). A user already in that state is a conflict.
    pub async fn set_duty(
        &self,
        user: UserId,
        on: bool,
        by: UserId,
        at: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query("UPDATE users SET on_duty = $1 WHERE id = $2 AND on_duty = $3")
            .bind(i64::from(on))
            .bind(user.to_string())
            .bind(i64::from(!on))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            let exists = sqlx::query("SELECT id FROM users WHERE id = $1")
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match exists {
                None => StoreError::NotFound,
                Some(_) if on => StoreError::Conflict("already on duty"),
                Some(_) => StoreError::Conflict("already off duty"),
            });
        }
        if on {
            sqlx::query(
                "INSERT INTO duty_periods (id, user_id, started_at, started_by) VALUES ($1, $2, $3, $4)",
            )
            .bind(new_id())
            .bind(user.to_string())
            .bind(at.as_micros())
            .bind(by.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| fk_or_unique(e, "duty period"))?;
        } else {
            sqlx::query(
                "UPDATE duty_periods SET ended_at = $1, ended_by = $2 WHERE user_id = $3 AND ended_at IS NULL",
            )
            .bind(at.as_micros())
            .bind(by.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        }
        self.commit_with(tx, events).await
    }

    /// A user's duty periods that overlap `[from, to)`, oldest first.
    pub async fn duty_periods(
        &self,
        user: UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<Timestamp>)>> {
        sqlx::query(
            "SELECT started_at, ended_at FROM duty_periods WHERE user_id = $1 AND started_at < $2 \
             AND (ended_at IS NULL OR ended_at > $3) ORDER BY started_at",
        )
        .bind(user.to_string())
        .bind(to.as_micros())
        .bind(from.as_micros())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                Timestamp::from_micros(int(r, "started_at")?),
                opt_time(r, "ended_at")?,
            ))
        })
        .collect()
    }

    // ---- grants ----

    /// Files a grant (pending, or approved at once for administrative
    /// tasks) with its first thread line and notifications.
    pub async fn create_grant(
        &self,
        g: &Grant,
        comment: &GrantComment,
        notify: &[Notification],
        mail: bool,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO grants (id, kind, requester, status, justification, starts_at, ends_at, \
             may_add_notes, device_id, decided_by, decided_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(g.id.clone())
        .bind(g.kind.as_str())
        .bind(g.requester.to_string())
        .bind(g.status.as_str())
        .bind(g.justification.clone())
        .bind(g.starts_at.as_micros())
        .bind(g.ends_at.as_micros())
        .bind(i64::from(g.may_add_notes))
        .bind(g.device.map(|d| d.to_string()))
        .bind(g.decided_by.map(|d| d.to_string()))
        .bind(g.decided_at.map(Timestamp::as_micros))
        .bind(g.created_at.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| fk_or_unique(e, "grant"))?;
        for c in &g.cases {
            sqlx::query("INSERT INTO grant_cases (grant_id, case_id) VALUES ($1, $2)")
                .bind(g.id.clone())
                .bind(c.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| fk_or_unique(e, "grant case"))?;
        }
        for d in &g.documents {
            sqlx::query("INSERT INTO grant_documents (grant_id, document_id) VALUES ($1, $2)")
                .bind(g.id.clone())
                .bind(d.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| fk_or_unique(e, "grant document"))?;
        }
        insert_comment(&mut tx, comment).await?;
        insert_notifications(&mut tx, notify, mail).await?;
        self.commit_with(tx, events).await
    }

    /// Takes a step on a grant, only if it still has `u.from`'s status.
    pub async fn step_grant(
        &self,
        id: &str,
        u: &GrantUpdate,
        comment: Option<&GrantComment>,
        notify: &[Notification],
        mail: bool,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = id.to_owned();
        let q = match u.to {
            GrantStatus::Approved | GrantStatus::Denied => sqlx::query(
                "UPDATE grants SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 \
                 WHERE id = $5 AND status = $6",
            )
            .bind(u.to.as_str())
            .bind(u.by.to_string())
            .bind(u.at.as_micros())
            .bind(u.note.clone()),
            GrantStatus::Revoked => sqlx::query(
                "UPDATE grants SET status = $1, revoked_by = $2, revoked_at = $3, \
                 decision_note = COALESCE(decision_note, $4) WHERE id = $5 AND status = $6",
            )
            .bind(u.to.as_str())
            .bind(u.by.to_string())
            .bind(u.at.as_micros())
            .bind(u.note.clone()),
            // Asking, answering, withdrawing: the thread says who and why.
            _ => sqlx::query("UPDATE grants SET status = $1 WHERE id = $2 AND status = $3")
                .bind(u.to.as_str()),
        };
        let changed = q
            .bind(id.clone())
            .bind(u.from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict("grant changed meanwhile"));
        }
        // The cases it names show it in their timelines.
        let what = match u.to {
            GrantStatus::Approved => Some(("grant.approved", "Off-site grant approved")),
            GrantStatus::Revoked => Some(("grant.revoked", "Off-site grant revoked")),
            _ => None,
        };
        if let Some((what, detail)) = what {
            let cases = sqlx::query("SELECT case_id FROM grant_cases WHERE grant_id = $1")
                .bind(id.clone())
                .fetch_all(&mut *tx)
                .await?;
            for r in cases {
                let case: CaseId = parse(&text(&r, "case_id")?)?;
                let line = Line {
                    actor: Some(u.by),
                    what,
                    detail: detail.to_owned(),
                };
                insert_line(&mut tx, case, u.at, &line).await?;
            }
        }
        if let Some(c) = comment {
            insert_comment(&mut tx, c).await?;
        }
        insert_notifications(&mut tx, notify, mail).await?;
        self.commit_with(tx, events).await
    }

    /// Adds a comment to a request's thread.
    pub async fn comment_grant(
        &self,
        c: &GrantComment,
        notify: &[Notification],
        mail: bool,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_comment(&mut tx, c).await?;
        insert_notifications(&mut tx, notify, mail).await?;
        self.commit_with(tx, events).await
    }

    /// Fills in the cases and documents of grants read head-first.
    async fn with_scope(&self, mut grants: Vec<Grant>) -> Result<Vec<Grant>> {
        if grants.is_empty() {
            return Ok(grants);
        }
        let ph = placeholders(1, grants.len());
        for (table, col) in [
            ("grant_cases", "case_id"),
            ("grant_documents", "document_id"),
        ] {
            let sql = format!("SELECT grant_id, {col} FROM {table} WHERE grant_id IN ({ph})");
            let mut q = sqlx::query(&sql);
            for g in &grants {
                q = q.bind(g.id.clone());
            }
            for r in q.fetch_all(&self.pool).await? {
                let gid = text(&r, "grant_id")?;
                let v = text(&r, col)?;
                if let Some(g) = grants.iter_mut().find(|g| g.id == gid) {
                    if col == "case_id" {
                        g.cases.push(parse::<CaseId>(&v)?);
                    } else {
                        g.documents.push(parse::<DocumentId>(&v)?);
                    }
                }
            }
        }
        for g in &mut grants {
            g.cases.sort();
            g.documents.sort();
        }
        Ok(grants)
    }

    async fn grants_where(&self, cond: &str, binds: &[Param]) -> Result<Vec<Grant>> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE {cond} ORDER BY created_at DESC LIMIT 500"
        );
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = match b {
                Param::Text(s) => q.bind(s.clone()),
                Param::Int(i) => q.bind(*i),
            };
        }
        let heads = q
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(grant_head)
            .collect::<Result<Vec<_>>>()?;
        self.with_scope(heads).await
    }

    pub async fn grant(&self, id: &str) -> Result<Grant> {
        self.grants_where("id = $1", &[Param::Text(id.to_owned())])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    /// A user's grants, newest first.
    pub async fn grants_of(&self, user: UserId) -> Result<Vec<Grant>> {
        self.grants_where("requester = $1", &[Param::Text(user.to_string())])
            .await
    }

    /// A user's approved or revoked grants whose window reaches past
    /// `since`: the ones in force now, and those that ended lately.
    pub async fn recent_grants_of(&self, user: UserId, since: Timestamp) -> Result<Vec<Grant>> {
        self.grants_where(
            "requester = $1 AND status IN ('approved', 'revoked') AND ends_at > $2",
            &[Param::Text(user.to_string()), Param::Int(since.as_micros())],
        )
        .await
    }

    /// Requests waiting for a decision, by anyone (the service keeps those
    /// in the asker's chain of command).
    pub async fn open_grants(&self) -> Result<Vec<Grant>> {
        self.grants_where("status IN ('pending', 'info_requested')", &[])
            .await
    }

    /// Grants of these requesters whose window overlaps `[from, to)`.
    pub async fn grants_between(
        &self,
        requesters: Option<&[UserId]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Grant>> {
        let mut binds = vec![Param::Int(to.as_micros()), Param::Int(from.as_micros())];
        let mut cond =
            "starts_at < $1 AND ends_at > $2 AND status IN ('approved', 'revoked')".to_owned();
        if let Some(users) = requesters {
            if users.is_empty() {
                return Ok(vec![]);
            }
            cond.push_str(&format!(
                " AND requester IN ({})",
                placeholders(3, users.len())
            ));
            binds.extend(users.iter().map(|u| Param::Text(u.to_string())));
        }
        self.grants_where(&cond, &binds).await
    }

    /// Approved grants, not yet reminded, ending by `before`.
    pub async fn grants_to_remind(&self, now: Timestamp, before: Timestamp) -> Result<Vec<Grant>> {
        self.grants_where(
            "status = 'approved' AND reminded = 0 AND ends_at > $1 AND ends_at <= $2",
            &[Param::Int(now.as_micros()), Param::Int(before.as_micros())],
        )
        .await
    }

    /// Approved-once grants over by `now` whose review item is not open.
    pub async fn grants_to_review(&self, now: Timestamp) -> Result<Vec<Grant>> {
        self.grants_where(
            "status IN ('approved', 'revoked') AND decided_by IS NOT NULL AND review_opened = 0 \
             AND (ends_at <= $1 OR (revoked_at IS NOT NULL AND revoked_at <= $1))",
            &[Param::Int(now.as_micros())],
        )
        .await
    }

    /// Grants an approver has to review (over, not yet reviewed).
    pub async fn reviews_for(&self, approver: UserId) -> Result<Vec<Grant>> {
        self.grants_where(
            "decided_by = $1 AND review_opened = 1 AND reviewed_at IS NULL",
            &[Param::Text(approver.to_string())],
        )
        .await
    }

    /// Marks a grant reminded (or its review opened), with notifications.
    pub async fn mark_grant(
        &self,
        id: &str,
        column: GrantMark,
        at: Timestamp,
        notify: &[Notification],
        mail: bool,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let q = match column {
            GrantMark::Reminded => {
                sqlx::query("UPDATE grants SET reminded = 1 WHERE id = $1 AND reminded = 0")
            }
            GrantMark::ReviewOpened => sqlx::query(
                "UPDATE grants SET review_opened = 1 WHERE id = $1 AND review_opened = 0",
            ),
            GrantMark::Reviewed => sqlx::query(
                "UPDATE grants SET reviewed_at = $2 WHERE id = $1 AND review_opened = 1 AND reviewed_at IS NULL",
            ),
        }
        .bind(id.to_owned());
        let q = match column {
            GrantMark::Reviewed => q.bind(at.as_micros()),
            _ => q,
        };
        let changed = q.execute(&mut *tx).await?.rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict("grant changed meanwhile"));
        }
        insert_notifications(&mut tx, notify, mail).await?;
        self.commit_with(tx, events).await
    }

    pub async fn grant_comments(&self, id: &str) -> Result<Vec<GrantComment>> {
        sqlx::query(
            "SELECT id, grant_id, author, step, body, at FROM grant_comments WHERE grant_id = $1 ORDER BY at, id",
        )
        .bind(id.to_owned())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(GrantComment {
                id: text(r, "id")?,
                grant_id: text(r, "grant_id")?,
                author: parse(&text(r, "author")?)?,
                step: text(r, "step")?,
                body: text(r, "body")?,
                at: Timestamp::from_micros(int(r, "at")?),
            })
        })
        .collect()
    }

    // ---- notifications ----

    /// A user's latest notifications, newest first.
    pub async fn notifications(&self, user: UserId, limit: i64) -> Result<Vec<Notification>> {
        sqlx::query(
            "SELECT id, user_id, kind, subject_id, message, at, read_at FROM notifications \
             WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(user.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(notification)
        .collect()
    }

    /// Marks a user's notification read (an audited change).
    pub async fn read_notification(
        &self,
        user: UserId,
        id: &str,
        at: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE notifications SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL",
        )
        .bind(at.as_micros())
        .bind(id.to_owned())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit_with(tx, events).await
    }

    /// Notifications whose e-mail is waiting, oldest first.
    pub async fn pending_mail(&self, limit: i64) -> Result<Vec<PendingMail>> {
        sqlx::query(
            "SELECT n.id, u.display_name, u.username, n.message, n.mail_attempts FROM notifications n \
             JOIN users u ON u.id = n.user_id WHERE n.mail_state = 1 ORDER BY n.at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(PendingMail {
                id: text(r, "id")?,
                to_name: text(r, "display_name")?,
                to_username: text(r, "username")?,
                message: text(r, "message")?,
                attempts: int(r, "mail_attempts")?,
            })
        })
        .collect()
    }

    /// Claims a waiting e-mail for sending (state 4), so that of several
    /// servers only one sends it; false if another server has it.
    pub async fn claim_mail(&self, id: &str) -> Result<bool> {
        Ok(
            sqlx::query("UPDATE notifications SET mail_state = 4 WHERE id = $1 AND mail_state = 1")
                .bind(id.to_owned())
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Records one e-mail attempt: sent, or failed (given up after
    /// `give_up` attempts: state 3).
    pub async fn mail_attempted(&self, id: &str, sent: bool, give_up: i64) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET mail_attempts = mail_attempts + 1, \
             mail_state = CASE WHEN $1 = 1 THEN 2 WHEN mail_attempts + 1 >= $2 THEN 3 ELSE 1 END \
             WHERE id = $3",
        )
        .bind(i64::from(sent))
        .bind(give_up)
        .bind(id.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- incidents ----

    /// Records incidents with the events that are their evidence (the
    /// denial itself among them), durably.
    pub async fn record_incidents(
        &self,
        incidents: &[Incident],
        notify: &[Notification],
        mail: bool,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for i in incidents {
            insert_incident(&mut tx, i).await?;
        }
        insert_notifications(&mut tx, notify, mail).await?;
        self.commit_with(tx, events).await
    }

    /// Incidents of these users (all users: `None`), newest first.
    pub async fn incidents(&self, users: Option<&[UserId]>, limit: i64) -> Result<Vec<Incident>> {
        let cols = "id, kind, user_id, at, audit_event_id, case_id, grant_id";
        let rows = match users {
            None => {
                sqlx::query(&format!(
                    "SELECT {cols} FROM incidents ORDER BY at DESC, id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Some([]) => return Ok(vec![]),
            Some(users) => {
                let sql = format!(
                    "SELECT {cols} FROM incidents WHERE user_id IN ({}) ORDER BY at DESC, id DESC LIMIT ${}",
                    placeholders(1, users.len()),
                    users.len() + 1
                );
                let mut q = sqlx::query(&sql);
                for u in users {
                    q = q.bind(u.to_string());
                }
                q.bind(limit).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(incident).collect()
    }

    // ---- paper files ----

    pub async fn paper_file(&self, case: CaseId) -> Result<PaperFile> {
        let r = sqlx::query(&format!("{PAPER_SELECT} WHERE case_id = $1"))
            .bind(case.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        paper_file(&r)
    }

    /// Paper files checked out, soonest due first.
    pub async fn paper_files_out(&self) -> Result<Vec<PaperFile>> {
        sqlx::query(&format!(
            "{PAPER_SELECT} WHERE holder IS NOT NULL ORDER BY due_at LIMIT 1000"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(paper_file)
        .collect()
    }

    pub async fn custody_of(&self, case: CaseId) -> Result<Vec<CustodyStep>> {
        sqlx::query(
            "SELECT id, case_id, step, holder, clerk, at, due_at, off_premises, grant_id \
             FROM paper_file_custody WHERE case_id = $1 ORDER BY at, id",
        )
        .bind(case.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CustodyStep {
                id: text(r, "id")?,
                case_id: parse(&text(r, "case_id")?)?,
                step: text(r, "step")?,
                holder: opt_id(r, "holder")?,
                clerk: parse(&text(r, "clerk")?)?,
                at: Timestamp::from_micros(int(r, "at")?),
                due_at: opt_time(r, "due_at")?,
                off_premises: flag(r, "off_premises")?,
                grant_id: opt_text(r, "grant_id")?,
            })
        })
        .collect()
    }

    /// Takes a paper file into the records room's register.
    pub async fn register_paper_file(
        &self,
        case: CaseId,
        location: &str,
        clerk: UserId,
        at: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO paper_files (case_id, location) VALUES ($1, $2)")
            .bind(case.to_string())
            .bind(location.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(|e| fk_or_unique(e, "paper file"))?;
        insert_custody(
            &mut tx,
            &CustodyStep {
                id: new_id(),
                case_id: case,
                step: "registered".into(),
                holder: None,
                clerk,
                at,
                due_at: None,
                off_premises: false,
                grant_id: None,
            },
        )
        .await?;
        self.commit_with(tx, events).await
    }

    /// Checks a paper file out (`step.holder` set) or back in (none); the
    /// file must be in the room, or out, respectively.
    pub async fn move_paper_file(&self, step: &CustodyStep, events: &[AuditEvent]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let changed = match step.holder {
            Some(holder) => sqlx::query(
                "UPDATE paper_files SET holder = $1, checked_out_at = $2, due_at = $3, off_premises = $4, \
                 grant_id = $5, overdue_flagged = 0 WHERE case_id = $6 AND holder IS NULL",
            )
            .bind(holder.to_string())
            .bind(step.at.as_micros())
            .bind(step.due_at.map(Timestamp::as_micros))
            .bind(i64::from(step.off_premises))
            .bind(step.grant_id.clone())
            .bind(step.case_id.to_string()),
            None => sqlx::query(
                "UPDATE paper_files SET holder = NULL, checked_out_at = NULL, due_at = NULL, off_premises = 0, \
                 grant_id = NULL, overdue_flagged = 0 WHERE case_id = $1 AND holder IS NOT NULL",
            )
            .bind(step.case_id.to_string()),
        }
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            let exists = sqlx::query("SELECT case_id FROM paper_files WHERE case_id = $1")
                .bind(step.case_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match (exists, step.holder) {
                (None, _) => StoreError::NotFound,
                (Some(_), Some(_)) => StoreError::Conflict("the paper file is already checked out"),
                (Some(_), None) => StoreError::Conflict("the paper file is in the records room"),
            });
        }
        insert_custody(&mut tx, step).await?;
        let line = Line {
            actor: Some(step.clerk),
            what: if step.holder.is_some() {
                "paper_file.check_out"
            } else {
                "paper_file.check_in"
            },
            detail: match (step.holder.is_some(), step.off_premises) {
                (true, true) => "Paper file checked out, off the premises under an off-site grant",
                (true, false) => "Paper file checked out",
                (false, _) => "Paper file checked back in",
            }
            .to_owned(),
        };
        insert_line(&mut tx, step.case_id, step.at, &line).await?;
        self.commit_with(tx, events).await
    }

    /// Paper files past due by `now` and not yet flagged.
    pub async fn overdue_paper_files(&self, now: Timestamp) -> Result<Vec<PaperFile>> {
        sqlx::query(&format!(
            "{PAPER_SELECT} WHERE holder IS NOT NULL AND due_at <= $1 AND overdue_flagged = 0"
        ))
        .bind(now.as_micros())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(paper_file)
        .collect()
    }

    /// Flags an overdue paper file with its incident and notifications.
    pub async fn flag_overdue(
        &self,
        case: CaseId,
        incident: &Incident,
        notify: &[Notification],
        mail: bool,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE paper_files SET overdue_flagged = 1 WHERE case_id = $1 AND overdue_flagged = 0 AND holder IS NOT NULL",
        )
        .bind(case.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict("paper file changed meanwhile"));
        }
        insert_incident(&mut tx, incident).await?;
        insert_notifications(&mut tx, notify, mail).await?;
        self.commit_with(tx, events).await
    }
}

/// Which mark `mark_grant` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantMark {
    Reminded,
    ReviewOpened,
    Reviewed,
}
