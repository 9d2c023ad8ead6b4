//! The registry of designated workstations and enrolled department devices,
//! and the lookup that turns a certificate fingerprint into what it is bound
//! to. The lookup runs on every request, so a disabled workstation or a
//! revoked device loses its channel on the very next one.

use crate::rows::{Cols, OnRow, Param, Query};
use ipnet::IpNet;
use precinct_domain::channel::{CertificateBinding, DeviceBinding, DeviceKind, WorkstationBinding};
use precinct_domain::ids::{DeviceId, UnitId, UserId, WorkstationId};
use precinct_domain::{Fingerprint, Timestamp};
use serde::Serialize;

use precinct_audit::event::AuditEvent;

use crate::{flag, int, opt_int, opt_text, parse, text, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkstationRecord {
    pub id: WorkstationId,
    pub name: String,
    pub unit_id: UnitId,
    pub unit_name: String,
    pub fingerprint: Option<String>,
    pub networks: Vec<IpNet>,
    pub enabled: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRecord {
    pub id: DeviceId,
    pub name: String,
    pub kind: DeviceKind,
    pub assigned_user_id: Option<UserId>,
    pub fingerprint: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub enrolled_at: Timestamp,
}

fn networks_from_text(s: &str) -> Result<Vec<IpNet>> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .map_err(|_| StoreError::Corrupt("workstation network".into()))
        })
        .collect()
}

fn networks_to_text(n: &[IpNet]) -> String {
    n.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

const WS_SELECT: &str =
    "SELECT w.id, w.name, w.unit_id, u.name AS unit_name, w.fingerprint, w.networks, \
     w.enabled, w.created_at FROM workstations w JOIN units u ON u.id = w.unit_id";
const DEV_SELECT: &str =
    "SELECT id, name, kind, assigned_user_id, fingerprint, revoked_at, enrolled_at FROM devices";

fn ws_from_row(row: &(impl Cols + ?Sized)) -> Result<WorkstationRecord> {
    Ok(WorkstationRecord {
        id: parse(&text(row, "id")?)?,
        name: text(row, "name")?,
        unit_id: parse(&text(row, "unit_id")?)?,
        unit_name: text(row, "unit_name")?,
        fingerprint: opt_text(row, "fingerprint")?,
        networks: networks_from_text(&text(row, "networks")?)?,
        enabled: flag(row, "enabled")?,
        created_at: Timestamp::from_micros(int(row, "created_at")?),
    })
}

fn dev_from_row(row: &(impl Cols + ?Sized)) -> Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: parse(&text(row, "id")?)?,
        name: text(row, "name")?,
        kind: DeviceKind::parse(&text(row, "kind")?)?,
        assigned_user_id: opt_text(row, "assigned_user_id")?
            .map(|s| parse(&s))
            .transpose()?,
        fingerprint: opt_text(row, "fingerprint")?,
        revoked_at: opt_int(row, "revoked_at")?.map(Timestamp::from_micros),
        enrolled_at: Timestamp::from_micros(int(row, "enrolled_at")?),
    })
}

pub(crate) fn fk_or_unique(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::conflict_on_unique(e, what),
    }
}

impl Store {
    pub async fn create_workstation(
        &self,
        id: WorkstationId,
        name: &str,
        unit: UnitId,
        networks: &[IpNet],
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO workstations (id, name, unit_id, fingerprint, networks, enabled, created_at) \
             VALUES ($1, $2, $3, NULL, $4, 1, $5)",
        )
        .bind(id.to_string())
        .bind(name.to_owned())
        .bind(unit.to_string())
        .bind(networks_to_text(networks))
        .bind(now.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| fk_or_unique(e, "workstation name"))?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    pub async fn list_workstations(&self) -> Result<Vec<WorkstationRecord>> {
        sqlx::query(&format!("{WS_SELECT} ORDER BY w.name"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(ws_from_row)
            .collect()
    }

    pub async fn workstation(&self, id: WorkstationId) -> Result<WorkstationRecord> {
        let row = sqlx::query(&format!("{WS_SELECT} WHERE w.id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        ws_from_row(&row)
    }

    pub async fn workstation_by_name(&self, name: &str) -> Result<WorkstationRecord> {
        let row = sqlx::query(&format!("{WS_SELECT} WHERE w.name = $1"))
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        ws_from_row(&row)
    }

    pub async fn set_workstation_enabled(
        &self,
        id: WorkstationId,
        enabled: bool,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE workstations SET enabled = $1 WHERE id = $2")
            .bind(i64::from(enabled))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// Binds a certificate to a workstation, replacing any earlier one.
    pub async fn set_workstation_fingerprint(
        &self,
        id: WorkstationId,
        fp: &Fingerprint,
        events: &[AuditEvent],
    ) -> Result<()> {
        self.bind_fingerprint(
            "devices",
            "UPDATE workstations SET fingerprint = $1 WHERE id = $2",
            &id.to_string(),
            fp,
            events,
        )
        .await
    }

    /// Binds `fp` with `update` (`$1` the fingerprint, `$2` the id) unless
    /// the `other` registry table already holds it: one certificate, one
    /// binding.
    async fn bind_fingerprint(
        &self,
        other: &str,
        update: &str,
        id: &str,
        fp: &Fingerprint,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query(&format!("SELECT id FROM {other} WHERE fingerprint = $1"))
            .bind(fp.as_str().to_owned())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict("certificate fingerprint"));
        }
        let done = sqlx::query(update)
            .bind(fp.as_str().to_owned())
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, "certificate fingerprint"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit_with(tx, events).await
    }

    pub async fn enroll_device(
        &self,
        id: DeviceId,
        name: &str,
        kind: DeviceKind,
        assigned_user: Option<UserId>,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO devices (id, name, kind, assigned_user_id, fingerprint, revoked_at, enrolled_at) \
             VALUES ($1, $2, $3, $4, NULL, NULL, $5)",
        )
        .bind(id.to_string())
        .bind(name.to_owned())
        .bind(kind.as_str())
        .bind(assigned_user.map(|u| u.to_string()))
        .bind(now.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| fk_or_unique(e, "device name"))?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    pub async fn list_devices(&self) -> Result<Vec<DeviceRecord>> {
        sqlx::query(&format!("{DEV_SELECT} ORDER BY name"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(dev_from_row)
            .collect()
    }

    pub async fn device(&self, id: DeviceId) -> Result<DeviceRecord> {
        let row = sqlx::query(&format!("{DEV_SELECT} WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        dev_from_row(&row)
    }

    pub async fn device_by_name(&self, name: &str) -> Result<DeviceRecord> {
        let row = sqlx::query(&format!("{DEV_SELECT} WHERE name = $1"))
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        dev_from_row(&row)
    }

    /// Revokes a device; it keeps its record (and fingerprint) for history.
    pub async fn revoke_device(
        &self,
        id: DeviceId,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.as_micros())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            self.device(id).await?;
        }
        self.commit_with(tx, events).await?;
        Ok(())
    }

    pub async fn set_device_fingerprint(
        &self,
        id: DeviceId,
        fp: &Fingerprint,
        events: &[AuditEvent],
    ) -> Result<()> {
        self.bind_fingerprint(
            "workstations",
            "UPDATE devices SET fingerprint = $1 WHERE id = $2 AND revoked_at IS NULL",
            &id.to_string(),
            fp,
            events,
        )
        .await
    }

    /// What a presented certificate is bound to.
    pub async fn certificate_binding(&self, fp: &Fingerprint) -> Result<CertificateBinding> {
        type Found = (Option<WorkstationRecord>, Option<DeviceRecord>);
        let on_row: OnRow<Found> = |found, i, row| {
            if i == 0 {
                found.0 = Some(ws_from_row(row)?);
            } else {
                found.1 = Some(dev_from_row(row)?);
            }
            Ok(())
        };
        let fp = Param::from(fp.as_str().to_owned());
        let found = self
            .read_batch(
                vec![
                    Query::new(
                        format!("{WS_SELECT} WHERE w.fingerprint = $1"),
                        vec![fp.clone()],
                    ),
                    Query::new(format!("{DEV_SELECT} WHERE fingerprint = $1"), vec![fp]),
                ],
                (None, None),
                on_row,
            )
            .await?;
        Ok(match found {
            (Some(w), _) => CertificateBinding::Workstation(WorkstationBinding {
                id: w.id,
                name: w.name,
                location: w.unit_name,
                enabled: w.enabled,
                networks: w.networks,
            }),
            (None, Some(d)) => CertificateBinding::Device(DeviceBinding {
                id: d.id,
                name: d.name,
                kind: d.kind,
                revoked: d.revoked_at.is_some(),
            }),
            (None, None) => CertificateBinding::Unknown,
        })
    }
}
