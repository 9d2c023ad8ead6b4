//! One audit event and its canonical encoding, the bytes a Merkle leaf
//! hashes. The encoding is versioned JSON with a fixed field order and no
//! whitespace; every field is present (null when empty), so the same event
//! always encodes to the same bytes, on any machine, forever.

use serde::{Deserialize, Serialize};

pub const ENCODING_VERSION: u32 = 1;

/// What happened, when, where, by whom, to what, and how it ended (CJIS
/// 5.4, NIST AU-3). No secrets and no narrative text: only identifiers and
/// codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Encoding version; 1.
    pub v: u32,
    pub id: String,
    /// Microseconds since the Unix epoch, UTC.
    pub time_us: i64,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    /// The session's public id (never its token).
    pub session_id: Option<String>,
    /// `workstation`, `department_device`, `offsite` or `console`.
    pub channel: String,
    pub workstation_id: Option<String>,
    pub device_id: Option<String>,
    pub source_ip: Option<String>,
    /// Dotted action name, e.g. `auth.login`, `user.roles.set`.
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: String,
    /// A stable code for a denial or failure, e.g. `invalid_credentials`.
    pub reason: Option<String>,
    pub grant_id: Option<String>,
    pub request_id: Option<String>,
}

impl AuditEvent {
    /// The canonical bytes: serde_json writes struct fields in declaration
    /// order without whitespace.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn leaf_hash(&self) -> crate::merkle::Hash {
        crate::merkle::leaf_hash(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_encoding_is_stable() {
        let e = AuditEvent {
            v: ENCODING_VERSION,
            id: "e1".into(),
            time_us: 1,
            actor_id: None,
            actor_name: Some("alice".into()),
            session_id: None,
            channel: "offsite".into(),
            workstation_id: None,
            device_id: None,
            source_ip: Some("127.0.0.1".into()),
            action: "auth.login".into(),
            object_type: None,
            object_id: None,
            outcome: "denied".into(),
            reason: Some("invalid_credentials".into()),
            grant_id: None,
            request_id: None,
        };
        let text = String::from_utf8(e.canonical()).expect("utf8");
        assert_eq!(
            text,
            r#"{"v":1,"id":"e1","time_us":1,"actor_id":null,"actor_name":"alice","session_id":null,"channel":"offsite","workstation_id":null,"device_id":null,"source_ip":"127.0.0.1","action":"auth.login","object_type":null,"object_id":null,"outcome":"denied","reason":"invalid_credentials","grant_id":null,"request_id":null}"#
        );
        let back: AuditEvent = serde_json::from_slice(text.as_bytes()).expect("parse");
        assert_eq!(back, e);
    }
}
