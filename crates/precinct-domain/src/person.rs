//! People involved in a case, with their role and protection flags. The
//! identifying details of a protected person (a juvenile, a protected
//! witness, a confidential informant) are shown only to the users the case
//! names; everyone else gets the masked form, everywhere.

use serde::Serialize;

use crate::ids::{CaseId, PersonId};
use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonRole {
    Victim,
    Witness,
    Suspect,
    Complainant,
    ReportingParty,
}

impl PersonRole {
    pub const ALL: [PersonRole; 5] = [
        PersonRole::Victim,
        PersonRole::Witness,
        PersonRole::Suspect,
        PersonRole::Complainant,
        PersonRole::ReportingParty,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            PersonRole::Victim => "victim",
            PersonRole::Witness => "witness",
            PersonRole::Suspect => "suspect",
            PersonRole::Complainant => "complainant",
            PersonRole::ReportingParty => "reporting_party",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            PersonRole::Victim => "Victim",
            PersonRole::Witness => "Witness",
            PersonRole::Suspect => "Suspect",
            PersonRole::Complainant => "Complainant",
            PersonRole::ReportingParty => "Reporting party",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "role",
                    "must be victim, witness, suspect, complainant or reporting_party",
                )
            })
    }
}

/// Why a person's identity is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PersonFlags {
    pub juvenile: bool,
    pub protected_witness: bool,
    pub confidential_informant: bool,
}

impl PersonFlags {
    pub fn is_protected(self) -> bool {
        self.juvenile || self.protected_witness || self.confidential_informant
    }
}

/// What the masked form shows instead of an identifying detail.
pub const MASK: &str = "[protected]";

/// A person's identifying details. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq, Serialize, Default)]
pub struct Identity {
    pub name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity([redacted])")
    }
}

impl Identity {
    pub fn parse(
        name: &str,
        address: Option<&str>,
        phone: Option<&str>,
        date_of_birth: Option<&str>,
    ) -> Result<Self, DomainError> {
        let line = |field: &'static str, v: Option<&str>, max: usize| -> Result<_, DomainError> {
            let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            if v.chars().count() > max || v.chars().any(char::is_control) {
                return Err(DomainError::invalid(
                    field,
                    format!("must be at most {max} characters without control characters"),
                ));
            }
            Ok(Some(v.to_owned()))
        };
        let name = line("name", Some(name), 120)?
            .ok_or_else(|| DomainError::invalid("name", "must not be empty"))?;
        let phone = line("phone", phone, 40)?;
        if phone.as_deref().is_some_and(|p| {
            !p.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        }) {
            return Err(DomainError::invalid(
                "phone",
                "may contain only digits, spaces and + - ( ) .",
            ));
        }
        let dob = line("date_of_birth", date_of_birth, 10)?;
        if let Some(d) = &dob {
            let ok = d.len() == 10
                && d.bytes().enumerate().all(|(i, b)| match i {
                    4 | 7 => b == b'-',
                    _ => b.is_ascii_digit(),
                })
                && (1..=12).contains(&d[5..7].parse::<u8>().unwrap_or(0))
                && (1..=31).contains(&d[8..10].parse::<u8>().unwrap_or(0));
            if !ok {
                return Err(DomainError::invalid(
                    "date_of_birth",
                    "must be a date like 1990-04-30",
                ));
            }
        }
        Ok(Self {
            name,
            address: line("address", address, 200)?,
            phone,
            date_of_birth: dob,
        })
    }

    /// The same shape with every detail replaced by the mask.
    pub fn masked(&self) -> Self {
        let m = |v: &Option<String>| v.as_ref().map(|_| MASK.to_owned());
        Self {
            name: MASK.to_owned(),
            address: m(&self.address),
            phone: m(&self.phone),
            date_of_birth: m(&self.date_of_birth),
        }
    }
}

/// A person linked to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CasePerson {
    pub id: PersonId,
    pub case_id: CaseId,
    pub role: PersonRole,
    pub flags: PersonFlags,
    pub identity: Identity,
}

impl CasePerson {
    /// The person as `may_see_protected` allows: protected identities are
    /// masked for everyone the case does not name.
    pub fn as_seen(&self, may_see_protected: bool) -> (Identity, bool) {
        if self.flags.is_protected() && !may_see_protected {
            (self.identity.masked(), true)
        } else {
            (self.identity.clone(), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_identities_are_masked() {
        let id = Identity::parse(
            "Jo Doe",
            Some("1 Elm St"),
            Some("+1 555 0100"),
            Some("2011-02-03"),
        )
        .expect("valid");
        assert!(!format!("{id:?}").contains("Jo"));
        let p = CasePerson {
            id: PersonId::new_random(),
            case_id: CaseId::new_random(),
            role: PersonRole::Witness,
            flags: PersonFlags {
                juvenile: true,
                ..Default::default()
            },
            identity: id.clone(),
        };
        let (seen, masked) = p.as_seen(false);
        assert!(masked);
        assert_eq!(seen.name, MASK);
        assert_eq!(seen.date_of_birth.as_deref(), Some(MASK));
        assert_eq!(p.as_seen(true).0, id);
        assert!(Identity::parse("x", None, Some("call me"), None).is_err());
        assert!(Identity::parse("x", None, None, Some("2011-13-01")).is_err());
        assert!(Identity::parse(" ", None, None, None).is_err());
    }
}
