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
        let mut buf = Vec::with_capacity(400);
        self.as_ref().encode_into(&mut buf);
        buf
    }

    pub fn leaf_hash(&self) -> crate::merkle::Hash {
        crate::merkle::leaf_hash(&self.canonical())
    }

    /// The same event, borrowed.
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            v: self.v,
            id: &self.id,
            time_us: self.time_us,
            actor_id: self.actor_id.as_deref(),
            actor_name: self.actor_name.as_deref(),
            session_id: self.session_id.as_deref(),
            channel: &self.channel,
            workstation_id: self.workstation_id.as_deref(),
            device_id: self.device_id.as_deref(),
            source_ip: self.source_ip.as_deref(),
            action: &self.action,
            object_type: self.object_type.as_deref(),
            object_id: self.object_id.as_deref(),
            outcome: &self.outcome,
            reason: self.reason.as_deref(),
            grant_id: self.grant_id.as_deref(),
            request_id: self.request_id.as_deref(),
        }
    }
}

/// An event whose fields are borrowed (from a database row, say): encodes
/// to exactly the bytes of the owned event, without copying its fields.
/// The one definition of the encoding: `AuditEvent::canonical` goes
/// through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventRef<'a> {
    pub v: u32,
    pub id: &'a str,
    pub time_us: i64,
    pub actor_id: Option<&'a str>,
    pub actor_name: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub channel: &'a str,
    pub workstation_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub action: &'a str,
    pub object_type: Option<&'a str>,
    pub object_id: Option<&'a str>,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub grant_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl EventRef<'_> {
    /// Appends the canonical bytes to `buf`.
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        // Writing plain strings and integers into a Vec cannot fail.
        let _ = serde_json::to_writer(buf, self);
    }

    /// The leaf hash, encoding into `buf` (cleared first) to reuse its
    /// allocation.
    pub fn leaf_hash_with(&self, buf: &mut Vec<u8>) -> crate::merkle::Hash {
        buf.clear();
        self.encode_into(buf);
        crate::merkle::leaf_hash(buf)
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
        // The borrowed form encodes to the same bytes.
        let mut buf = Vec::new();
        assert_eq!(serde_json::to_vec(&e).expect("encode"), text.as_bytes());
        assert_eq!(e.as_ref().leaf_hash_with(&mut buf), e.leaf_hash());
        assert_eq!(buf, text.as_bytes());
    }
}
