//! Precinct's storage: one implementation of every query over sqlx's `Any`
//! driver, running on embedded SQLite or on PostgreSQL, chosen by the
//! database URL. SQL is written once in the dialect both engines share
//! (`$n` placeholders, `ON CONFLICT`, integers for times and flags); each
//! engine has its own migration tree, and the trees move in lock step.

mod audit;
mod case_page;
mod cases;
mod kept;
mod offsite;
mod org;
mod registry;
mod rows;
mod search;
mod seed;
mod sessions;
mod users;

pub use audit::{ChunkCheck, ChunkProblem, EventFilter, LogEntry, StoredCheckpoint};
pub use case_page::{CaseMaterial, CaseRead, PageMaterial, UnitsById};
pub use cases::{BreakGlass, Line, NewCase, SealedBlob};
pub use kept::{KeptReads, Revisions};
pub use offsite::{
    CustodyStep, GrantComment, GrantMark, GrantUpdate, Notification, PaperFile, PendingMail,
};
pub use registry::{DeviceRecord, WorkstationRecord};
pub use search::{SearchScope, TextCursor, TextHit, TextKind};
pub use seed::{CaseSeeder, SeedCase, SeedLine, SeedPerson, SeededBatch};
pub use users::{LoginAttempt, NewUser, UserRecord};

use sqlx::any::AnyPoolOptions;

pub(crate) use rows::{flag, int, opt_int, opt_text, text};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};
use std::time::Duration;
use thiserror::Error;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
    pub fn migrator(self) -> &'static Migrator {
        match self {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The migration versions of each tree, for the lock-step test.
pub fn migration_versions(engine: Engine) -> Vec<i64> {
    engine.migrator().iter().map(|m| m.version).collect()
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(&'static str),
    #[error("the database URL must start with sqlite: or postgres://")]
    UnsupportedUrl,
    #[error(
        "an in-memory SQLite database cannot be shared by the audit trail's writer; give a file"
    )]
    InMemorySqlite,
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a change was about to be written without its audit record")]
    MissingAudit,
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Turns a unique-constraint violation into `Conflict(what)`.
    fn conflict_on_unique(e: sqlx::Error, what: &'static str) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            _ => StoreError::Database(e),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            e => StoreError::Database(e),
        }
    }
}

impl From<precinct_domain::DomainError> for StoreError {
    fn from(e: precinct_domain::DomainError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl Store {
    /// Commits a change together with the audit events that record it: both
    /// or neither. A change without an event is refused.
    /// Begins a write transaction; on SQLite, after taking the writer's
    /// turn.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        let turn = match self.engine {
            Engine::Sqlite => Some(self.sqlite_writer.clone().lock_owned().await),
            Engine::Postgres => None,
        };
        let mut tx = self.pool.begin().await?;
        if self.engine == Engine::Sqlite {
            // Take the write lock now, not at the first write: a deferred
            // transaction that reads first can fail to upgrade.
            sqlx::query("UPDATE audit_state SET size = size WHERE id = 1")
                .execute(&mut *tx)
                .await?;
        }
        Ok(WriteTx { tx, _turn: turn })
    }

    pub(crate) async fn commit_with(
        &self,
        mut tx: WriteTx,
        events: &[precinct_audit::event::AuditEvent],
    ) -> Result<()> {
        if events.is_empty() {
            return Err(StoreError::MissingAudit);
        }
        if let Err(e) = audit::sequence_in(&mut tx, self.engine, events).await {
            self.audit_write_failed();
            return Err(e);
        }
        tx.commit()
            .await
            .inspect_err(|_| self.audit_write_failed())?;
        Ok(())
    }

    pub(crate) fn audit_write_failed(&self) {
        self.audit_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::error!("an audit event could not be written; the action was refused");
    }

    /// How many times an audit write failed (each refused its action).
    pub fn audit_write_failures(&self) -> u64 {
        self.audit_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A handle on the database; cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    audit_failures: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// SQLite has one writer at a time; waiting here, in turn, is much
    /// cheaper than SQLite's busy handler, which sleeps and retries.
    sqlite_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The engine's own driver, for the audit trail's hot loops (group
    /// commit, verification, proofs), where `Any`'s per-row cost is the
    /// bound (decision 0004).
    native: Native,
    /// On PostgreSQL, the native pool for request reads.
    pg_reads: Option<sqlx::PgPool>,
    /// Full tiles of the Merkle tree's upper levels, as read (see
    /// `Store::nodes`).
    tile_cache: std::sync::Arc<std::sync::Mutex<audit::TileCache>>,
    /// Cases and units as last read, for reads that find them unchanged.
    kept: std::sync::Arc<kept::Kept>,
}

#[derive(Debug, Clone)]
pub(crate) enum Native {
    Sqlite(std::sync::Arc<audit::SqliteNative>),
    Postgres(sqlx::PgPool),
}

/// A write transaction (holding the SQLite writer's turn, if any).
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Connects; SQLite files are created if missing and run in WAL mode with
    /// foreign keys on and a busy timeout.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let engine = Engine::from_url(url)?;
        let url = match engine {
            Engine::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match engine {
                Engine::Sqlite => 8,
                Engine::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10));
        let options = match engine {
            Engine::Sqlite => options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 8192; PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; \
                         PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16384;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Engine::Postgres => options,
        };
        // One direct connection first: a pool that cannot connect reports
        // only a timeout, hiding "connection refused" or "no such database".
        {
            use sqlx::Connection;
            let conn = sqlx::AnyConnection::connect(&url).await?;
            conn.close().await?;
        }
        let pool = options.connect(&url).await?;
        let native = match engine {
            Engine::Sqlite => {
                let path = sqlite_file(&url).ok_or(StoreError::InMemorySqlite)?;
                // The pool has created the file and set WAL mode.
                pool.acquire().await?;
                Native::Sqlite(std::sync::Arc::new(audit::SqliteNative::open(path)?))
            }
            Engine::Postgres => Native::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    // Group commit, indexer, proofs, and verify's chunks at once.
                    .max_connections(8)
                    // A generic plan cached while the log was small would
                    // scan the whole table once it is large.
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute("SET plan_cache_mode = force_custom_plan")
                                .await?;
                            Ok(())
                        })
                    })
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(&url)
                    .await?,
            ),
        };
        // The reads every request makes (`rows.rs`), with the server's
        // ordinary plan caching: they are planned once per connection.
        let pg_reads = match engine {
            Engine::Postgres => Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(&url)
                    .await?,
            ),
            Engine::Sqlite => None,
        };
        Ok(Self {
            pool,
            pg_reads,
            engine,
            audit_failures: Default::default(),
            sqlite_writer: Default::default(),
            native,
            tile_cache: Default::default(),
            kept: Default::default(),
        })
    }

    pub async fn migrate(&self) -> Result<()> {
        self.engine.migrator().run(&self.pool).await?;
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// How many cases are kept from earlier reads (`kept.rs`), and how
    /// many reads they have answered.
    pub fn kept(&self) -> (usize, KeptReads) {
        (self.kept.len(), self.kept.reads())
    }

    /// After a bulk load: on SQLite, fold the write-ahead log back into the
    /// database (readers otherwise search a large WAL on every page); on
    /// PostgreSQL, fresh planner statistics, and every new row's hint bits
    /// and the visibility map set (`VACUUM`), so that the first searches
    /// and reads after a seed do not write the pages they read.
    pub async fn after_bulk_load(&self) -> Result<()> {
        let sql = match self.engine {
            Engine::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
            Engine::Postgres => "VACUUM (ANALYZE)",
        };
        sqlx::raw_sql(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        if let Native::Postgres(pg) = &self.native {
            pg.close().await;
        }
        if let Some(pg) = &self.pg_reads {
            pg.close().await;
        }
    }
}

/// The file of a `sqlite:` URL, or None for an in-memory database.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        None
    } else {
        Some(std::path::PathBuf::from(path))
    }
}

fn parse<T: std::str::FromStr<Err = precinct_domain::DomainError>>(s: &str) -> Result<T> {
    Ok(s.parse::<T>()?)
}
