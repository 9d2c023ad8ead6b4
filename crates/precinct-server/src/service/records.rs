//! The records room: paper case files checked out and back in by the
//! records clerk, with due dates and custody history. A file leaves the
//! premises only for a holder with an off-duty investigation grant in force
//! for its case, and never past the grant's end. Overdue files become
//! compliance incidents, flagged to the holder and their supervisors.

use precinct_domain::ids::{CaseId, UserId};
use precinct_domain::offsite::{approvers, GrantKind, Incident, IncidentKind};
use precinct_domain::user::UserStatus;
use precinct_domain::{DomainError, Role, Timestamp};
use precinct_store::{CustodyStep, Notification, PaperFile};
use std::time::Duration;

use super::audit::{Origin, Outcome};
use super::cases::Asker;
use super::{ServiceError, ServiceResult, Services, StoreResultExt};

/// Longest a paper file stays out.
const MAX_CHECKOUT: Duration = Duration::from_secs(30 * 86_400);

/// A paper file with its custody history and case number.
#[derive(Debug, Clone)]
pub struct PaperFileView {
    pub file: PaperFile,
    pub number: String,
    pub custody: Vec<CustodyStep>,
}

impl Services {
    async fn as_clerk(&self, asker: Asker<'_>, action: &str, case: CaseId) -> ServiceResult<()> {
        if asker.user.roles.contains(Role::RecordsClerk) {
            return Ok(());
        }
        let e = self
            .event(asker.origin, action, Outcome::Denied)
            .object("paper_file", case)
            .reason("not_records_clerk")
            .build();
        Err(self.deny(e, ServiceError::Forbidden("records_clerk")).await)
    }

    /// Takes a case's paper file into the register at `location`.
    pub async fn register_paper_file(
        &self,
        asker: Asker<'_>,
        case: CaseId,
        location: &str,
    ) -> ServiceResult<PaperFile> {
        self.as_clerk(asker, "paper_file.register", case).await?;
        let location = precinct_domain::case::validate_title(location)
            .map_err(|_| DomainError::invalid("location", "1 to 200 characters"))?;
        let e = self
            .event(asker.origin, "paper_file.register", Outcome::Allowed)
            .object("paper_file", case)
            .build();
        self.store
            .register_paper_file(case, &location, asker.user.id, self.clock.now(), &[e])
            .await
            .or_service("case")?;
        self.store.paper_file(case).await.or_service("paper file")
    }

    /// Checks a file out to `holder` until `due`. Off the premises, the
    /// holder needs an off-duty investigation grant in force for the case,
    /// and the file is due back by the grant's end.
    pub async fn check_out_paper_file(
        &self,
        asker: Asker<'_>,
        case: CaseId,
        holder: UserId,
        due: Timestamp,
        off_premises: bool,
    ) -> ServiceResult<PaperFile> {
        self.as_clerk(asker, "paper_file.check_out", case).await?;
        let now = self.clock.now();
        if due <= now || due.since(now) > MAX_CHECKOUT {
            return Err(DomainError::invalid("due_at", "must be in the next 30 days").into());
        }
        let h = match self.store.user(holder).await {
            Ok(r) if r.user.status == UserStatus::Active => r.user,
            Ok(_) | Err(precinct_store::StoreError::NotFound) => {
                return Err(DomainError::invalid("holder", "no such active user").into())
            }
            Err(e) => return Err(ServiceError::from_store(e, "user")),
        };
        let super::cases::LoadedCase { case: c, conn, .. } = self.load_case_quietly(case).await?;
        let refuse = |reason: &'static str, message: String| async move {
            let e = self
                .event(asker.origin, "paper_file.check_out", Outcome::Denied)
                .object("paper_file", case)
                .reason(reason)
                .build();
            Err(self.deny(e, ServiceError::Denied(message)).await)
        };
        if !conn.includes(holder) {
            return refuse(
                "no_need_to_know",
                format!("{} is not on case {}", h.display_name, c.number),
            )
            .await;
        }
        let mut grant_id = None;
        if off_premises {
            let grants = self
                .store
                .recent_grants_of(holder, now)
                .await
                .or_service("grant")?;
            let grant = grants.iter().find(|g| {
                g.kind == GrantKind::OffDutyInvestigation
                    && g.in_force(now)
                    && g.cases.contains(&case)
            });
            match grant {
                Some(g) if due <= g.ends_at => grant_id = Some(g.id.clone()),
                Some(g) => {
                    return Err(DomainError::invalid(
                        "due_at",
                        format!(
                            "off the premises the file is due back by the grant's end, {}",
                            super::offsite::minute(g.ends_at)
                        ),
                    )
                    .into())
                }
                None => {
                    return refuse(
                        "no_offsite_grant",
                        format!(
                            "The paper file of case {} leaves the premises only under an approved off-duty investigation grant of {} for it",
                            c.number, h.display_name
                        ),
                    )
                    .await
                }
            }
        }
        let e = self
            .event(asker.origin, "paper_file.check_out", Outcome::Allowed)
            .object("paper_file", case)
            .grant(grant_id.as_deref())
            .build();
        let step = CustodyStep {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: case,
            step: "check_out".into(),
            holder: Some(holder),
            clerk: asker.user.id,
            at: now,
            due_at: Some(due),
            off_premises,
            grant_id,
        };
        self.store
            .move_paper_file(&step, &[e])
            .await
            .or_service("paper file")?;
        self.store.paper_file(case).await.or_service("paper file")
    }

    /// Checks a file back into the records room.
    pub async fn check_in_paper_file(
        &self,
        asker: Asker<'_>,
        case: CaseId,
    ) -> ServiceResult<PaperFile> {
        self.as_clerk(asker, "paper_file.check_in", case).await?;
        let e = self
            .event(asker.origin, "paper_file.check_in", Outcome::Allowed)
            .object("paper_file", case)
            .build();
        // No holder: the file is back in the records room (the store
        // refuses a file that is not out, or not registered).
        let step = CustodyStep {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: case,
            step: "check_in".into(),
            holder: None,
            clerk: asker.user.id,
            at: self.clock.now(),
            due_at: None,
            off_premises: false,
            grant_id: None,
        };
        self.store
            .move_paper_file(&step, &[e])
            .await
            .or_service("paper file")?;
        self.store.paper_file(case).await.or_service("paper file")
    }

    /// A file with its custody history: for the records clerk, internal
    /// affairs, auditors, and the people connected to the case. Recorded.
    pub async fn paper_file_view(
        &self,
        asker: Asker<'_>,
        case: CaseId,
    ) -> ServiceResult<PaperFileView> {
        let me = asker.user;
        let super::cases::LoadedCase { case: c, conn, .. } =
            match self.load_case_quietly(case).await {
                Ok(x) => x,
                Err(ServiceError::NotFound(_)) => {
                    return Err(self.paper_file_hidden(asker, case).await)
                }
                Err(e) => return Err(e),
            };
        let sees = me.roles.contains(Role::RecordsClerk)
            || me.roles.contains(Role::InternalAffairs)
            || me.roles.contains(Role::Auditor)
            || conn.includes(me.id);
        if !sees {
            return Err(self.paper_file_hidden(asker, case).await);
        }
        let file = self.store.paper_file(case).await.or_service("paper file")?;
        let custody = self.store.custody_of(case).await.or_service("paper file")?;
        let e = self
            .event(asker.origin, "paper_file.read", Outcome::Allowed)
            .object("paper_file", case)
            .build();
        self.record(&[e]).await?;
        Ok(PaperFileView {
            file,
            number: c.number.to_string(),
            custody,
        })
    }

    async fn paper_file_hidden(&self, asker: Asker<'_>, case: CaseId) -> ServiceError {
        let e = self
            .event(asker.origin, "paper_file.read", Outcome::Denied)
            .object("paper_file", case)
            .reason("no_need_to_know")
            .build();
        self.deny(e, ServiceError::NotFound("paper file")).await
    }

    /// Files checked out, soonest due first (the records clerk's list).
    pub async fn paper_files_out(&self, asker: Asker<'_>) -> ServiceResult<Vec<PaperFile>> {
        if !asker.user.roles.contains(Role::RecordsClerk) {
            return Err(ServiceError::Forbidden("records_clerk"));
        }
        let files = self
            .store
            .paper_files_out()
            .await
            .or_service("paper file")?;
        self.list_event(asker, "paper_file.list").await?;
        Ok(files)
    }

    /// Flags files past due: an incident for the holder, a notification to
    /// the holder and their supervisors.
    pub(crate) async fn flag_overdue_files(
        &self,
        system: &Origin,
        now: Timestamp,
    ) -> ServiceResult<()> {
        let overdue = self
            .store
            .overdue_paper_files(now)
            .await
            .or_service("paper file")?;
        if overdue.is_empty() {
            return Ok(());
        }
        let units = self.units_by_id().await?;
        for f in overdue {
            let Some(holder) = f.holder else { continue };
            let user = self.store.user(holder).await.or_service("user")?.user;
            let number = self
                .store
                .case(f.case_id)
                .await
                .map(|c| c.number.to_string())
                .unwrap_or_default();
            let e = self
                .event(system, "paper_file.overdue", Outcome::Allowed)
                .object("paper_file", f.case_id)
                .grant(f.grant_id.as_deref())
                .build();
            let incident = Incident {
                id: uuid::Uuid::now_v7().to_string(),
                kind: IncidentKind::OverduePaperFile,
                user: holder,
                at: now,
                audit_event_id: e.id.clone(),
                case_id: Some(f.case_id),
                grant_id: f.grant_id.clone(),
            };
            let mut to = vec![holder];
            to.extend(approvers(&user, &units));
            let notify: Vec<Notification> = to
                .into_iter()
                .map(|u| {
                    Notification::new(
                        u,
                        "paper_file.overdue",
                        Some(&f.case_id.to_string()),
                        format!(
                            "The paper file of case {number} held by {} is overdue; return it to the records room",
                            user.display_name
                        ),
                        now,
                    )
                })
                .collect();
            super::offsite::another_server_did_it(
                self.store
                    .flag_overdue(f.case_id, &incident, &notify, self.mail.is_some(), &[e])
                    .await,
            )?;
        }
        Ok(())
    }
}
