//! Keeping the audit log (events take their place in it as they are
//! written): signing checkpoints (and copying each to the witness file), and the key
//! that signs them.

use precinct_audit::checkpoint::{LogKey, LogVerifier};
use precinct_store::StoredCheckpoint;
use rand::rngs::OsRng;
use rand::RngCore;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::{ServiceError, ServiceResult, Services, StoreResultExt};

/// The extension line in each checkpoint naming the one before it, so that
/// a checkpoint removed from the middle of the chain is noticed.
pub const PREVIOUS_EXTENSION: &str = "precinct-previous";
/// Separates checkpoints in the witness file.
pub const WITNESS_SEPARATOR: &str = "~~~";
/// Events per search-index transaction: each holds the writer's turn, so
/// group commits (and the reads waiting on them) wait at most one batch.
const INDEX_BATCH: u64 = 250;
pub const DEFAULT_ORIGIN: &str = "precinct.local/audit";

impl Services {
    /// Adds the events written since the last run to the search index, in
    /// batches; returns how many.
    pub async fn index_search(&self) -> ServiceResult<u64> {
        let mut total = 0;
        loop {
            let n = self
                .store
                .index_search(INDEX_BATCH)
                .await
                .or_service("audit search index")?;
            total += n;
            if n < INDEX_BATCH {
                return Ok(total);
            }
        }
    }

    /// Signs a checkpoint of the log as it is, if it grew since the last
    /// one, and appends it to the witness file.
    pub async fn sign_checkpoint(&self) -> ServiceResult<Option<StoredCheckpoint>> {
        let size = self.store.audit_size().await.or_service("audit log")?;
        let latest = self
            .store
            .latest_checkpoint()
            .await
            .or_service("audit log")?;
        let previous = latest.as_ref().map_or(0, |c| c.size);
        if size == 0 || size <= previous {
            return Ok(None);
        }
        let root = self.store.audit_root(size).await.or_service("audit log")?;
        let note =
            self.log_key
                .sign_with(size, root, &[format!("{PREVIOUS_EXTENSION} {previous}")]);
        let cp = StoredCheckpoint {
            size,
            previous,
            root: root.to_vec(),
            note,
            signed_at: self.clock.now().as_micros(),
        };
        match self.store.insert_checkpoint(&cp).await {
            Ok(()) => {}
            // Another server signed this size, or a checkpoint after the
            // same previous one, first.
            Err(precinct_store::StoreError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(ServiceError::from_store(e, "checkpoint")),
        }
        self.copy_to_witness(&cp.note);
        Ok(Some(cp))
    }

    /// Appends a checkpoint (and any that failed before, in order) to the
    /// witness file; what cannot be written now is kept for the next time
    /// and counted in `/metrics`.
    fn copy_to_witness(&self, note: &str) {
        let Some(path) = &self.witness_file else {
            return;
        };
        let Ok(mut backlog) = self.witness_backlog.lock() else {
            return;
        };
        backlog.push(note.to_owned());
        while let Some(first) = backlog.first() {
            match append_witness(path, first) {
                Ok(()) => {
                    backlog.remove(0);
                }
                Err(e) => {
                    self.witness_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::error!(error = %e, waiting = backlog.len(), "cannot append checkpoints to the witness file; will retry");
                    break;
                }
            }
        }
    }

    pub fn log_verifier(&self) -> LogVerifier {
        self.log_key.verifier()
    }
}

/// Appends a checkpoint note to the witness file and flushes it to disk.
pub fn append_witness(path: &Path, note: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(format!("{note}{WITNESS_SEPARATOR}\n").as_bytes())?;
    f.sync_data()
}

/// The checkpoint notes of a witness file, oldest first.
pub fn read_witness(text: &str) -> Vec<String> {
    text.split(&format!("{WITNESS_SEPARATOR}\n"))
        .filter(|n| !n.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Signs a checkpoint every second that has new events, brings the search
/// index up to date and makes the off-site round (reminders, review items,
/// overdue paper files, e-mail), until `stop` changes; then once more.
pub async fn keep_log(services: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = services.sign_checkpoint().await {
            tracing::error!(error = %e, "audit checkpoint failed");
        }
        if let Err(e) = services.index_search().await {
            tracing::error!(error = %e, "audit search indexing failed");
        }
        if let Err(e) = services.offsite_round().await {
            tracing::error!(error = %e, "off-site reminders and reviews failed");
        }
    }
    let _ = services.sign_checkpoint().await;
    let _ = services.index_search().await;
}

/// Reads the log's signing key, or creates it (mode 0600) on first start.
/// Several servers on one database must share the same key file.
pub fn load_or_create_log_key(path: &Path, origin: &str) -> Result<LogKey, String> {
    let secret = load_or_create_secret(path)?;
    LogKey::from_secret(origin, secret)
        .map_err(|_| format!("{}: the origin is not a valid key name", path.display()))
}

/// Reads a 32-byte secret kept as hex in `path`, or creates one (mode
/// 0600) if the file does not exist.
pub(crate) fn load_or_create_secret(path: &Path) -> Result<[u8; 32], String> {
    let bad = |what: &str| format!("{}: {what}", path.display());
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| bad("not a hex key"))?;
            bytes.try_into().map_err(|_| bad("not a 32-byte key"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            OsRng.fill_bytes(&mut secret);
            write_private(path, &hex::encode(secret)).map_err(|e| bad(&e.to_string()))?;
            Ok(secret)
        }
        Err(e) => Err(bad(&e.to_string())),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// A random key, for tests and throw-away servers.
pub fn ephemeral_log_key() -> LogKey {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    match LogKey::from_secret(DEFAULT_ORIGIN, secret) {
        Ok(k) => k,
        // DEFAULT_ORIGIN is a valid name; this arm cannot be reached.
        Err(_) => unreachable_key(),
    }
}

#[allow(clippy::panic)]
fn unreachable_key() -> LogKey {
    panic!("the default audit origin is a valid key name")
}
