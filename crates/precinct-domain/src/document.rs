//! Case documentation: reports, supplements, notes and attachments. Entries
//! are append-only; a correction is an amendment, a new entry that names the
//! one it corrects, so the original stays visible in the history.

use serde::Serialize;

use crate::case::Classification;
use crate::ids::{CaseId, DocumentId, UserId};
use crate::{DomainError, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Report,
    Supplement,
    Note,
    Attachment,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 4] = [
        DocumentKind::Report,
        DocumentKind::Supplement,
        DocumentKind::Note,
        DocumentKind::Attachment,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Report => "report",
            DocumentKind::Supplement => "supplement",
            DocumentKind::Note => "note",
            DocumentKind::Attachment => "attachment",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::Report => "Report",
            DocumentKind::Supplement => "Supplement",
            DocumentKind::Note => "Note",
            DocumentKind::Attachment => "Attachment",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid("kind", "must be report, supplement, note or attachment")
            })
    }
}

/// An attachment's stored form: the plaintext's SHA-256 and size; the bytes
/// themselves are kept encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentMeta {
    pub filename: String,
    pub media_type: String,
    pub size: u64,
    pub sha256: String,
}

/// One documentation entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    pub id: DocumentId,
    pub case_id: CaseId,
    pub kind: DocumentKind,
    pub classification: Classification,
    pub title: String,
    pub body: String,
    pub author: UserId,
    pub created_at: Timestamp,
    /// The entry this one corrects.
    pub amends: Option<DocumentId>,
    pub attachment: Option<AttachmentMeta>,
}

/// An attachment's file name: 1 to 200 characters, no path separators or
/// control characters.
pub fn validate_filename(s: &str) -> Result<String, DomainError> {
    let t = s.trim();
    if t.is_empty()
        || t.chars().count() > 200
        || t.chars().any(|c| c.is_control() || c == '/' || c == '\\')
        || t == "."
        || t == ".."
    {
        return Err(DomainError::invalid(
            "filename",
            "must be 1 to 200 characters without slashes or control characters",
        ));
    }
    Ok(t.to_owned())
}

/// A media type such as `image/jpeg`.
pub fn validate_media_type(s: &str) -> Result<String, DomainError> {
    let t = s.trim().to_ascii_lowercase();
    let ok = t.len() <= 100
        && t.split_once('/').is_some_and(|(a, b)| {
            let tok = |x: &str| {
                !x.is_empty()
                    && x.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
            };
            tok(a) && tok(b.split(';').next().unwrap_or_default().trim())
        });
    if !ok {
        return Err(DomainError::invalid(
            "media_type",
            "must be a media type such as image/jpeg",
        ));
    }
    Ok(t)
}

/// The current form of each entry: amendments replace what they amend in
/// the main view, and every version stays in the history. Returns, for
/// each original entry in order, its latest version and all versions
/// oldest first. Versions follow the amendment links, not the clock (two
/// versions may share a time).
pub fn current_versions(docs: &[Document]) -> Vec<(&Document, Vec<&Document>)> {
    let known = |id: DocumentId| docs.iter().any(|d| d.id == id);
    docs.iter()
        .filter(|d| d.amends.is_none_or(|a| !known(a)))
        .map(|root| {
            let mut chain = vec![root];
            while let Some(next) = chain
                .last()
                .and_then(|cur| docs.iter().find(|d| d.amends == Some(cur.id)))
            {
                if chain.len() > docs.len() {
                    break;
                }
                chain.push(next);
            }
            let latest = chain.last().copied().unwrap_or(root);
            (latest, chain)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: DocumentId, amends: Option<DocumentId>, t: i64) -> Document {
        Document {
            id,
            case_id: CaseId::new_random(),
            kind: DocumentKind::Report,
            classification: Classification::Case,
            title: "Initial report".into(),
            body: format!("version {t}"),
            author: UserId::new_random(),
            created_at: Timestamp::from_micros(t),
            amends,
            attachment: None,
        }
    }

    #[test]
    fn amendments_keep_the_original() {
        // Same times: order comes from the links.
        let (a, b, c, d) = (
            DocumentId::new_random(),
            DocumentId::new_random(),
            DocumentId::new_random(),
            DocumentId::new_random(),
        );
        let docs = vec![
            doc(a, None, 1),
            doc(b, None, 2),
            doc(c, Some(a), 3),
            doc(d, Some(c), 4),
        ];
        let cur = current_versions(&docs);
        assert_eq!(cur.len(), 2);
        assert_eq!(cur[0].0.id, d);
        assert_eq!(
            cur[0].1.iter().map(|x| x.id).collect::<Vec<_>>(),
            vec![a, c, d]
        );
        assert_eq!(cur[1].0.id, b);
    }

    #[test]
    fn file_names_and_media_types() {
        assert!(validate_filename("scene photo 1.jpg").is_ok());
        assert!(validate_filename("../etc/passwd").is_err());
        assert!(validate_media_type("image/jpeg").is_ok());
        assert!(validate_media_type("text/plain; charset=utf-8").is_ok());
        assert!(validate_media_type("jpeg").is_err());
    }
}
