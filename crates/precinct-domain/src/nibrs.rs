//! The FBI NIBRS offense codes (Group A and Group B), shipped as reference
//! data from `data/nibrs-offense-codes.csv`.

use serde::Serialize;
use std::sync::OnceLock;

use crate::DomainError;

static CSV: &str = include_str!("../data/nibrs-offense-codes.csv");

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offense {
    pub code: String,
    pub description: String,
    /// `A` or `B`.
    pub group: String,
    pub crime_against: String,
    /// Reported only by federal and tribal agencies.
    pub federal_only: bool,
}

/// Splits one CSV line, honouring double quotes around fields with commas.
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// Every offense, in the file's order.
pub fn offenses() -> &'static [Offense] {
    static ALL: OnceLock<Vec<Offense>> = OnceLock::new();
    ALL.get_or_init(|| {
        CSV.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| match fields(l.trim_end()).as_slice() {
                [code, description, group, against, federal] => Some(Offense {
                    code: code.clone(),
                    description: description.clone(),
                    group: group.clone(),
                    crime_against: against.clone(),
                    federal_only: federal == "yes",
                }),
                _ => None,
            })
            .collect()
    })
}

/// The offense with this code (case-insensitive), or an error.
pub fn offense(code: &str) -> Result<&'static Offense, DomainError> {
    let code = code.trim();
    offenses()
        .iter()
        .find(|o| o.code.eq_ignore_ascii_case(code))
        .ok_or_else(|| DomainError::invalid("offense", "must be an FBI NIBRS offense code"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_list_is_shipped() {
        let all = offenses();
        assert_eq!(all.len(), 83);
        assert_eq!(all.iter().filter(|o| o.group == "B").count(), 13);
        let trafficking = offense("64a").expect("known");
        assert_eq!(
            trafficking.description,
            "Human Trafficking, Commercial Sex Acts"
        );
        assert_eq!(
            offense("220").expect("burglary").description,
            "Burglary/Breaking & Entering"
        );
        assert!(offense("90I").is_err(), "runaway left the specification");
    }
}
