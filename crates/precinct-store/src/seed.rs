//! The bulk path for a demonstration department: thousands of cases in one
//! transaction through each engine's own driver (prepared statements on
//! SQLite, `COPY` on PostgreSQL) instead of one transaction per change. It
//! keeps what the one-case path keeps — numbers from the per-year counters,
//! exactly one lead, the search index, the timeline — and every batch
//! commits with its audit events, placed in the Merkle log inside the same
//! transaction as `Store::commit_with` places them.

use precinct_audit::event::AuditEvent;
use precinct_domain::case::{CaseMember, CaseNumber, CaseStatus, Classification, Membership};
use precinct_domain::document::Document;
use precinct_domain::ids::{CaseId, UnitId, UserId};
use precinct_domain::person::CasePerson;
use precinct_domain::Timestamp;
use rusqlite::params;
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;
use std::path::Path;

use crate::{text, Line, Native, Result, Store, StoreError};

/// A case as the seeder writes it: already at some point of its life
/// (status, people, documents, the timeline that led there).
#[derive(Debug, Clone)]
pub struct SeedCase {
    pub id: CaseId,
    pub title: String,
    pub offense: String,
    pub status: CaseStatus,
    pub status_before_seal: Option<CaseStatus>,
    pub classification: Classification,
    pub unit: UnitId,
    pub narrative: String,
    pub due: Option<Timestamp>,
    /// Exactly one lead.
    pub members: Vec<CaseMember>,
    pub created_by: UserId,
    /// Its number is counted in this time's year.
    pub created_at: Timestamp,
    pub people: Vec<SeedPerson>,
    pub documents: Vec<Document>,
    /// Oldest first; the last line's time is the case's `updated_at`.
    pub timeline: Vec<SeedLine>,
}

#[derive(Debug, Clone)]
pub struct SeedPerson {
    pub person: CasePerson,
    pub added_by: UserId,
    pub added_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct SeedLine {
    pub at: Timestamp,
    pub line: Line,
}

/// What one batch wrote: for its audit event and for progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeededBatch {
    pub cases: usize,
    pub people: usize,
    pub documents: usize,
    pub first: CaseNumber,
    pub last: CaseNumber,
}

/// Writes batches of seeded cases; on SQLite it keeps one connection of its
/// own (its statements stay prepared from batch to batch).
pub struct CaseSeeder {
    store: Store,
    sqlite: Option<rusqlite::Connection>,
}

impl std::fmt::Debug for CaseSeeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseSeeder")
            .field("engine", &self.store.engine.as_str())
            .finish_non_exhaustive()
    }
}

const CASE_COLUMNS: &str = "id, year, seq, title, offense, status, status_before_seal, \
     classification, unit_id, narrative, due_at, created_by, created_at, updated_at";
const MEMBER_COLUMNS: &str = "case_id, user_id, membership, named, case_updated_at";
const PERSON_COLUMNS: &str = "id, case_id, role, juvenile, protected_witness, \
     confidential_informant, name, address, phone, date_of_birth, added_by, added_at";
const DOCUMENT_COLUMNS: &str = "id, case_id, kind, classification, title, body, author_id, \
     created_at, amends_id, filename, media_type, size, sha256";
const TIMELINE_COLUMNS: &str = "id, case_id, at, actor_id, what, detail";
const TEXT_COLUMNS: &str = "body, scope, case_id, kind, ref_id";

/// Takes `n` numbers of a year at once: the counter ends at the last.
const RESERVE: &str = "INSERT INTO case_counters (year, last) VALUES ($1, $2) \
     ON CONFLICT (year) DO UPDATE SET last = case_counters.last + excluded.last RETURNING last";

impl Store {
    /// Whether any case exists (the seeder fills only an empty database).
    pub async fn has_cases(&self) -> Result<bool> {
        Ok(sqlx::query("SELECT id FROM cases LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    pub async fn case_seeder(&self) -> Result<CaseSeeder> {
        let sqlite = match &self.native {
            Native::Sqlite(_) => {
                // SQLite's own word for the file: the URL may be relative or
                // percent-encoded.
                let row = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(&self.pool)
                    .await?;
                let file = text(&row, "file")?;
                if file.is_empty() {
                    return Err(StoreError::InMemorySqlite);
                }
                Some(open_sqlite(Path::new(&file))?)
            }
            Native::Postgres(_) => None,
        };
        Ok(CaseSeeder {
            store: self.clone(),
            sqlite,
        })
    }
}

fn open_sqlite(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A large page cache: the indexes' right edges and the search index's
    // pending segments stay in memory for the whole batch.
    conn.execute_batch(
        "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; \
         PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;",
    )?;
    Ok(conn)
}

impl CaseSeeder {
    /// Writes one batch of cases and the events `describe` gives for it
    /// (at least one), in one transaction: all of it or nothing.
    pub async fn write<F>(&mut self, cases: Vec<SeedCase>, describe: F) -> Result<SeededBatch>
    where
        F: FnOnce(&SeededBatch) -> Vec<AuditEvent> + Send + 'static,
    {
        if cases.is_empty() {
            return Err(StoreError::Corrupt("an empty batch of cases".into()));
        }
        for c in &cases {
            let leads = c
                .members
                .iter()
                .filter(|m| m.membership == Membership::Lead)
                .count();
            if leads != 1 {
                return Err(StoreError::Corrupt(format!(
                    "a seeded case has {leads} leads instead of one"
                )));
            }
        }
        match &self.store.native {
            Native::Sqlite(_) => {
                let mut conn = self
                    .sqlite
                    .take()
                    .ok_or_else(|| StoreError::Corrupt("the seeding connection was lost".into()))?;
                // The store's writer turn, as every write in this process takes it.
                let turn = self.store.sqlite_writer.clone().lock_owned().await;
                let store = self.store.clone();
                let (conn, written) = tokio::task::spawn_blocking(move || {
                    let _turn = turn;
                    let written = write_sqlite(&store, &mut conn, &cases, describe);
                    (conn, written)
                })
                .await
                .map_err(|_| StoreError::Corrupt("a native SQLite task stopped".into()))?;
                self.sqlite = Some(conn);
                written
            }
            Native::Postgres(pool) => write_postgres(&self.store, pool, &cases, describe).await,
        }
    }
}

/// Cases per year, in the order the batch holds them.
fn years(cases: &[SeedCase]) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    for c in cases {
        *out.entry(c.created_at.year()).or_insert(0) += 1;
    }
    out
}

/// Numbers the cases from the first number reserved in each year.
fn number(cases: &[SeedCase], mut next: BTreeMap<i64, i64>) -> Result<Vec<CaseNumber>> {
    cases
        .iter()
        .map(|c| {
            let year = c.created_at.year();
            let seq = next.get_mut(&year).ok_or(StoreError::NotFound)?;
            let n = CaseNumber::new(year, *seq)?;
            *seq += 1;
            Ok(n)
        })
        .collect()
}

fn summary(cases: &[SeedCase], numbers: &[CaseNumber]) -> Result<SeededBatch> {
    let (Some(first), Some(last)) = (numbers.iter().min(), numbers.iter().max()) else {
        return Err(StoreError::Corrupt("an empty batch of cases".into()));
    };
    Ok(SeededBatch {
        cases: cases.len(),
        people: cases.iter().map(|c| c.people.len()).sum(),
        documents: cases.iter().map(|c| c.documents.len()).sum(),
        first: *first,
        last: *last,
    })
}

fn updated_at(c: &SeedCase) -> i64 {
    c.timeline
        .iter()
        .map(|l| l.at)
        .max()
        .unwrap_or(c.created_at)
        .max(c.created_at)
        .as_micros()
}

/// The search index's row kinds (as `cases::TextKind` writes them).
fn person_kind(p: &CasePerson) -> &'static str {
    if p.flags.is_protected() {
        "protected_person"
    } else {
        "person"
    }
}

fn document_kind(d: &Document) -> &'static str {
    if d.classification == Classification::Restricted {
        "restricted_document"
    } else {
        "document"
    }
}

fn case_text(number: CaseNumber, c: &SeedCase) -> String {
    format!("{number} {}\n{}", c.title, c.narrative)
}

/// The scope tokens of the case's search rows (as `search::index_text`
/// writes them).
fn scope_of(c: &SeedCase) -> String {
    crate::search::scope_tokens(c.id, c.unit, c.members.iter().map(|m| m.user))
}

fn document_text(d: &Document) -> String {
    format!("{}\n{}", d.title, d.body)
}

fn is_named(m: &CaseMember) -> i64 {
    i64::from(m.named || m.membership == Membership::Lead)
}

fn attachment_size(d: &Document) -> Option<i64> {
    d.attachment
        .as_ref()
        .map(|a| i64::try_from(a.size).unwrap_or(i64::MAX))
}

// ---- SQLite: prepared statements on the seeder's own connection ----

fn write_sqlite<F>(
    store: &Store,
    conn: &mut rusqlite::Connection,
    cases: &[SeedCase],
    describe: F,
) -> Result<SeededBatch>
where
    F: FnOnce(&SeededBatch) -> Vec<AuditEvent>,
{
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut first = BTreeMap::new();
    {
        let mut reserve = tx.prepare_cached(&RESERVE.replace('$', "?"))?;
        for (year, n) in years(cases) {
            let last: i64 = reserve.query_row(params![year, n], |r| r.get(0))?;
            first.insert(year, last - n + 1);
        }
    }
    let numbers = number(cases, first)?;
    {
        let mut case_row = tx.prepare_cached(&format!(
            "INSERT INTO cases ({CASE_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))?;
        let mut member = tx.prepare_cached(&format!(
            "INSERT INTO case_members ({MEMBER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"
        ))?;
        let mut person = tx.prepare_cached(&format!(
            "INSERT INTO case_people ({PERSON_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))?;
        let mut document = tx.prepare_cached(&format!(
            "INSERT INTO documents ({DOCUMENT_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))?;
        let mut line = tx.prepare_cached(&format!(
            "INSERT INTO case_timeline ({TIMELINE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))?;
        let mut index = tx.prepare_cached(&format!(
            "INSERT INTO case_text ({TEXT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"
        ))?;
        for (c, n) in cases.iter().zip(&numbers) {
            let id = c.id.to_string();
            case_row.execute(params![
                id,
                i64::from(n.year),
                i64::from(n.seq),
                c.title,
                c.offense,
                c.status.as_str(),
                c.status_before_seal.map(CaseStatus::as_str),
                c.classification.as_str(),
                c.unit.to_string(),
                c.narrative,
                c.due.map(Timestamp::as_micros),
                c.created_by.to_string(),
                c.created_at.as_micros(),
                updated_at(c),
            ])?;
            for m in &c.members {
                member.execute(params![
                    id,
                    m.user.to_string(),
                    m.membership.as_str(),
                    is_named(m),
                    updated_at(c)
                ])?;
            }
            let scope = scope_of(c);
            index.execute(params![case_text(*n, c), scope, id, "case", id])?;
            for p in &c.people {
                let (who, i) = (&p.person, &p.person.identity);
                let pid = who.id.to_string();
                person.execute(params![
                    pid,
                    id,
                    who.role.as_str(),
                    i64::from(who.flags.juvenile),
                    i64::from(who.flags.protected_witness),
                    i64::from(who.flags.confidential_informant),
                    i.name,
                    i.address,
                    i.phone,
                    i.date_of_birth,
                    p.added_by.to_string(),
                    p.added_at.as_micros(),
                ])?;
                index.execute(params![i.name, scope, id, person_kind(who), pid])?;
            }
            for d in &c.documents {
                let did = d.id.to_string();
                let a = d.attachment.as_ref();
                document.execute(params![
                    did,
                    id,
                    d.kind.as_str(),
                    d.classification.as_str(),
                    d.title,
                    d.body,
                    d.author.to_string(),
                    d.created_at.as_micros(),
                    d.amends.map(|x| x.to_string()),
                    a.map(|a| a.filename.as_str()),
                    a.map(|a| a.media_type.as_str()),
                    attachment_size(d),
                    a.map(|a| a.sha256.as_str()),
                ])?;
                index.execute(params![document_text(d), scope, id, document_kind(d), did])?;
            }
            for l in &c.timeline {
                line.execute(params![
                    uuid::Uuid::now_v7().to_string(),
                    id,
                    l.at.as_micros(),
                    l.line.actor.map(|a| a.to_string()),
                    l.line.what,
                    l.line.detail,
                ])?;
            }
        }
    }
    let batch = summary(cases, &numbers)?;
    sequence_sqlite(&tx, &describe(&batch)).inspect_err(|_| store.audit_write_failed())?;
    tx.commit()?;
    Ok(batch)
}

/// Places the batch's events in the log inside its transaction.
fn sequence_sqlite(tx: &rusqlite::Transaction<'_>, events: &[AuditEvent]) -> Result<()> {
    if events.is_empty() {
        return Err(StoreError::MissingAudit);
    }
    crate::audit::sequence_on_sqlite(tx, events)
}

// ---- PostgreSQL: COPY in text format on the native pool ----

/// Rows in `COPY ... FROM STDIN` text format.
#[derive(Default)]
struct CopyRows {
    buf: String,
    fields: usize,
}

enum Field<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

impl<'a> From<&'a str> for Field<'a> {
    fn from(s: &'a str) -> Self {
        Field::Text(s)
    }
}

impl<'a> From<&'a String> for Field<'a> {
    fn from(s: &'a String) -> Self {
        Field::Text(s)
    }
}

impl From<i64> for Field<'_> {
    fn from(i: i64) -> Self {
        Field::Int(i)
    }
}

impl<'a, T: Into<Field<'a>>> From<Option<T>> for Field<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Field::Null, Into::into)
    }
}

impl CopyRows {
    fn field<'a>(&mut self, f: impl Into<Field<'a>>) -> &mut Self {
        use std::fmt::Write;
        if self.fields > 0 {
            self.buf.push('\t');
        }
        self.fields += 1;
        match f.into() {
            Field::Null => self.buf.push_str("\\N"),
            Field::Int(i) => {
                let _ = write!(self.buf, "{i}");
            }
            Field::Text(s) => {
                for ch in s.chars() {
                    match ch {
                        '\\' => self.buf.push_str("\\\\"),
                        '\n' => self.buf.push_str("\\n"),
                        '\r' => self.buf.push_str("\\r"),
                        '\t' => self.buf.push_str("\\t"),
                        c => self.buf.push(c),
                    }
                }
            }
        }
        self
    }

    fn end(&mut self) {
        self.buf.push('\n');
        self.fields = 0;
    }
}

async fn copy_in(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    rows: CopyRows,
) -> Result<()> {
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
        .await?;
    if let Err(e) = copy.send(rows.buf.into_bytes()).await {
        let _ = copy.abort(e.to_string()).await;
        return Err(e.into());
    }
    copy.finish().await?;
    Ok(())
}

async fn write_postgres<F>(
    store: &Store,
    pool: &PgPool,
    cases: &[SeedCase],
    describe: F,
) -> Result<SeededBatch>
where
    F: FnOnce(&SeededBatch) -> Vec<AuditEvent>,
{
    let mut tx = pool.begin().await?;
    let unchecked = skip_row_triggers(&mut tx).await?;
    let mut first = BTreeMap::new();
    for (year, n) in years(cases) {
        let last: i64 = sqlx::query_scalar(RESERVE)
            .bind(year)
            .bind(n)
            .fetch_one(&mut *tx)
            .await?;
        first.insert(year, last - n + 1);
    }
    let numbers = number(cases, first)?;
    let (mut case_rows, mut members, mut people, mut documents, mut lines, mut index) = (
        CopyRows::default(),
        CopyRows::default(),
        CopyRows::default(),
        CopyRows::default(),
        CopyRows::default(),
        CopyRows::default(),
    );
    let mut revisions = CopyRows::default();
    for (c, n) in cases.iter().zip(&numbers) {
        let id = c.id.to_string();
        revisions.field(&id).field(0).end();
        case_rows
            .field(&id)
            .field(i64::from(n.year))
            .field(i64::from(n.seq))
            .field(&c.title)
            .field(&c.offense)
            .field(c.status.as_str())
            .field(c.status_before_seal.map(CaseStatus::as_str))
            .field(c.classification.as_str())
            .field(&c.unit.to_string())
            .field(&c.narrative)
            .field(c.due.map(Timestamp::as_micros))
            .field(&c.created_by.to_string())
            .field(c.created_at.as_micros())
            .field(updated_at(c))
            .end();
        for m in &c.members {
            members
                .field(&id)
                .field(&m.user.to_string())
                .field(m.membership.as_str())
                .field(is_named(m))
                .field(updated_at(c))
                .end();
        }
        let scope = scope_of(c);
        index
            .field(&case_text(*n, c))
            .field(&scope)
            .field(&id)
            .field("case")
            .field(&id)
            .end();
        for p in &c.people {
            let (who, i) = (&p.person, &p.person.identity);
            let pid = who.id.to_string();
            people
                .field(&pid)
                .field(&id)
                .field(who.role.as_str())
                .field(i64::from(who.flags.juvenile))
                .field(i64::from(who.flags.protected_witness))
                .field(i64::from(who.flags.confidential_informant))
                .field(&i.name)
                .field(i.address.as_ref())
                .field(i.phone.as_ref())
                .field(i.date_of_birth.as_ref())
                .field(&p.added_by.to_string())
                .field(p.added_at.as_micros())
                .end();
            index
                .field(&i.name)
                .field(&scope)
                .field(&id)
                .field(person_kind(who))
                .field(&pid)
                .end();
        }
        for d in &c.documents {
            let did = d.id.to_string();
            let a = d.attachment.as_ref();
            documents
                .field(&did)
                .field(&id)
                .field(d.kind.as_str())
                .field(d.classification.as_str())
                .field(&d.title)
                .field(&d.body)
                .field(&d.author.to_string())
                .field(d.created_at.as_micros())
                .field(d.amends.map(|x| x.to_string()).as_ref())
                .field(a.map(|a| a.filename.as_str()))
                .field(a.map(|a| a.media_type.as_str()))
                .field(attachment_size(d))
                .field(a.map(|a| a.sha256.as_str()))
                .end();
            index
                .field(&document_text(d))
                .field(&scope)
                .field(&id)
                .field(document_kind(d))
                .field(&did)
                .end();
        }
        for l in &c.timeline {
            lines
                .field(&uuid::Uuid::now_v7().to_string())
                .field(&id)
                .field(l.at.as_micros())
                .field(l.line.actor.map(|a| a.to_string()).as_ref())
                .field(l.line.what)
                .field(&l.line.detail)
                .end();
        }
    }
    // In the order the foreign keys need.
    copy_in(&mut tx, "cases", CASE_COLUMNS, case_rows).await?;
    if unchecked {
        // What `cases_added` writes; the triggers that move a revision
        // would only move these new cases' from 0 to 5.
        copy_in(&mut tx, "case_revisions", "case_id, revision", revisions).await?;
    }
    copy_in(&mut tx, "case_members", MEMBER_COLUMNS, members).await?;
    copy_in(&mut tx, "case_people", PERSON_COLUMNS, people).await?;
    copy_in(&mut tx, "documents", DOCUMENT_COLUMNS, documents).await?;
    copy_in(&mut tx, "case_timeline", TIMELINE_COLUMNS, lines).await?;
    copy_in(&mut tx, "case_text", TEXT_COLUMNS, index).await?;
    let batch = summary(cases, &numbers)?;
    // Last, so that the sequencer's lock is held only to the commit.
    if let Err(e) = sequence_postgres(&mut tx, &describe(&batch)).await {
        store.audit_write_failed();
        return Err(e);
    }
    tx.commit().await?;
    Ok(batch)
}

/// Turns off, for the batch's transaction, the triggers PostgreSQL fires
/// for every row, where the role may (a superuser): in `replica` mode no
/// foreign key is checked and no ordinary trigger fires. The seed's rows
/// satisfy the foreign keys by construction (users, units and cases it
/// wrote itself; the demo test checks every key after a seed), and in a
/// profile of a seed the per-row checks took 44 % of the server's time,
/// 26 % of it planning each check again, and the revision triggers 14 %.
/// The caller then writes what `cases_added` would have. Returns whether
/// they are off.
async fn skip_row_triggers(conn: &mut PgConnection) -> Result<bool> {
    let superuser: bool = sqlx::query_scalar("SELECT current_setting('is_superuser') = 'on'")
        .fetch_one(&mut *conn)
        .await?;
    if superuser {
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *conn)
            .await?;
    }
    Ok(superuser)
}

/// As `sequence_sqlite`, under the one sequencer lock every writer of the
/// log takes.
async fn sequence_postgres(conn: &mut PgConnection, events: &[AuditEvent]) -> Result<()> {
    if events.is_empty() {
        return Err(StoreError::MissingAudit);
    }
    crate::audit::sequence_on_postgres(conn, events).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_escape_what_copy_reads_specially() {
        let mut rows = CopyRows::default();
        rows.field("a\tb\\c\nd\re")
            .field(Option::<&str>::None)
            .field(7i64)
            .end();
        assert_eq!(rows.buf, "a\\tb\\\\c\\nd\\re\t\\N\t7\n");
    }
}
