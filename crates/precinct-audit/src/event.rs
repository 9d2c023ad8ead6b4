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

/// The fields a database keeps beside an event's canonical bytes, for
/// filtering, read straight out of those bytes: one pass, no allocation.
/// String values are as encoded (JSON escapes left in); `escaped` says if
/// any of them holds an escape, so that a caller comparing them with plain
/// text can decode first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    pub id: &'a str,
    pub time_us: i64,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub object_type: Option<&'a str>,
    pub object_id: Option<&'a str>,
    pub outcome: &'a str,
    pub escaped: bool,
}

/// The canonical field order, with whether each holds a string (else an
/// integer) and may be null.
const LAYOUT: [(&str, bool, bool); 17] = [
    ("v", false, false),
    ("id", true, false),
    ("time_us", false, false),
    ("actor_id", true, true),
    ("actor_name", true, true),
    ("session_id", true, true),
    ("channel", true, false),
    ("workstation_id", true, true),
    ("device_id", true, true),
    ("source_ip", true, true),
    ("action", true, false),
    ("object_type", true, true),
    ("object_id", true, true),
    ("outcome", true, false),
    ("reason", true, true),
    ("grant_id", true, true),
    ("request_id", true, true),
];

impl<'a> Fields<'a> {
    /// Reads the fields of a canonical encoding (version 1); None if the
    /// bytes are not one, field for field.
    pub fn of(entry: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(entry).ok()?;
        let b = text.as_bytes();
        let mut at = 0usize;
        let mut values: [Option<&'a str>; 17] = [None; 17];
        let mut escaped = false;
        for (i, (name, is_string, nullable)) in LAYOUT.iter().enumerate() {
            // {"name": or ,"name":
            let open = if i == 0 { b'{' } else { b',' };
            if b.get(at) != Some(&open) {
                return None;
            }
            at += 1;
            let key = b.get(at..at + name.len() + 3)?;
            if key[0] != b'"'
                || &key[1..=name.len()] != name.as_bytes()
                || &key[name.len() + 1..] != b"\":"
            {
                return None;
            }
            at += name.len() + 3;
            if *nullable && b.get(at..at + 4) == Some(b"null") {
                at += 4;
                continue;
            }
            if *is_string {
                if b.get(at) != Some(&b'"') {
                    return None;
                }
                let start = at + 1;
                let mut j = start;
                // To the closing quote, skipping escaped characters.
                loop {
                    j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
                    if b[j] == b'"' {
                        break;
                    }
                    escaped = true;
                    j += 2;
                }
                values[i] = Some(text.get(start..j)?);
                at = j + 1;
            } else {
                let start = at;
                while b.get(at).is_some_and(|c| c.is_ascii_digit() || *c == b'-') {
                    at += 1;
                }
                values[i] = Some(text.get(start..at)?);
            }
        }
        if at + 1 != b.len() || b[at] != b'}' || values[0] != Some("1") {
            return None;
        }
        Some(Fields {
            id: values[1]?,
            time_us: values[2]?.parse().ok()?,
            actor_id: values[3],
            action: values[10]?,
            object_type: values[11],
            object_id: values[12],
            outcome: values[13]?,
            escaped,
        })
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
        assert_eq!(serde_json::to_vec(&e).expect("encode"), text.as_bytes());
        assert_eq!(crate::merkle::leaf_hash(text.as_bytes()), e.leaf_hash());
        let f = Fields::of(text.as_bytes()).expect("fields");
        assert_eq!(
            (
                f.id,
                f.time_us,
                f.actor_id,
                f.action,
                f.object_type,
                f.outcome,
                f.escaped
            ),
            ("e1", 1, None, "auth.login", None, "denied", false)
        );
    }

    #[test]
    fn fields_are_read_from_any_canonical_encoding_and_nothing_else() {
        let mut e = AuditEvent {
            v: ENCODING_VERSION,
            id: "0190-x".into(),
            time_us: -5,
            actor_id: Some("u\"1".into()),
            actor_name: Some("a,\"action\":\"x".into()),
            session_id: None,
            channel: "workstation".into(),
            workstation_id: None,
            device_id: None,
            source_ip: None,
            action: "case.read".into(),
            object_type: Some("case".into()),
            object_id: Some("2026-000001".into()),
            outcome: "allowed".into(),
            reason: None,
            grant_id: None,
            request_id: Some("r".into()),
        };
        let bytes = e.canonical();
        let f = Fields::of(&bytes).expect("fields");
        assert_eq!(
            (
                f.id,
                f.time_us,
                f.actor_id,
                f.action,
                f.object_id,
                f.escaped
            ),
            (
                "0190-x",
                -5,
                Some("u\\\"1"),
                "case.read",
                Some("2026-000001"),
                true
            )
        );
        // Not canonical: whitespace, another order, a missing or extra field.
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        for bad in [
            text.replacen(':', ": ", 1),
            text.replacen("\"v\":1", "\"v\":2", 1),
            text.replacen(",\"request_id\":\"r\"", "", 1),
            text.replacen('}', ",\"x\":1}", 1),
            format!("{text} "),
            // Cut inside a string, or after an escape's backslash.
            text[..text.find("case.read").expect("action") + 4].to_owned(),
            format!("{}\\", &text[..text.find("u\\").expect("escape") + 1]),
        ] {
            assert_eq!(Fields::of(bad.as_bytes()), None, "{bad}");
        }
        e.actor_id = None;
        assert_eq!(Fields::of(&e.canonical()).map(|f| f.actor_id), Some(None));
    }
}
