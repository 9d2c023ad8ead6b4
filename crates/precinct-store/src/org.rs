//! Precincts and units, and who supervises them.

use crate::rows::Cols;
use precinct_domain::ids::{UnitId, UserId};
use precinct_domain::org::{Unit, UnitKind};
use precinct_domain::Timestamp;

use precinct_audit::event::AuditEvent;

use crate::{opt_text, parse, text, Result, Store, StoreError};

pub(crate) const UNIT_COLUMNS: &str = "id, name, kind, parent_id, supervisor_id";

pub(crate) fn unit_from_row(row: &(impl Cols + ?Sized)) -> Result<Unit> {
    Ok(Unit {
        id: parse(&text(row, "id")?)?,
        name: text(row, "name")?,
        kind: UnitKind::parse(&text(row, "kind")?)?,
        parent: opt_text(row, "parent_id")?.map(|s| parse(&s)).transpose()?,
        supervisor: opt_text(row, "supervisor_id")?
            .map(|s| parse(&s))
            .transpose()?,
    })
}

impl Store {
    pub async fn create_unit(
        &self,
        unit: &Unit,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO units (id, name, kind, parent_id, supervisor_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(unit.id.to_string())
        .bind(unit.name.clone())
        .bind(unit.kind.as_str())
        .bind(unit.parent.map(|p| p.to_string()))
        .bind(unit.supervisor.map(|p| p.to_string()))
        .bind(now.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            _ => StoreError::conflict_on_unique(e, "unit name"),
        })?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    pub async fn list_units(&self) -> Result<Vec<Unit>> {
        sqlx::query("SELECT id, name, kind, parent_id, supervisor_id FROM units ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(unit_from_row)
            .collect()
    }

    pub async fn unit(&self, id: UnitId) -> Result<Unit> {
        let row =
            sqlx::query("SELECT id, name, kind, parent_id, supervisor_id FROM units WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        unit_from_row(&row)
    }

    pub async fn unit_by_name(&self, name: &str) -> Result<Unit> {
        let row = sqlx::query(
            "SELECT id, name, kind, parent_id, supervisor_id FROM units WHERE name = $1",
        )
        .bind(name.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        unit_from_row(&row)
    }

    pub async fn set_unit_supervisor(
        &self,
        id: UnitId,
        supervisor: Option<UserId>,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE units SET supervisor_id = $1 WHERE id = $2")
            .bind(supervisor.map(|s| s.to_string()))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                _ => StoreError::Database(e),
            })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit_with(tx, events).await?;
        Ok(())
    }
}
