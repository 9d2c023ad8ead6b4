//! Signed checkpoints in the C2SP formats, so existing transparency-log
//! tools can read them: the body is a `tlog-checkpoint` (origin, tree size,
//! base64 root hash, one per line) and the signature follows the
//! `signed-note` format with an Ed25519 key:
//!
//! ```text
//! precinct.example/audit
//! 1234
//! 3q2+7w...=
//!
//! — precinct.example/audit AbCdEf...==
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::merkle::Hash;

const ALG_ED25519: u8 = 0x01;
const SIG_PREFIX: &str = "\u{2014} ";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("the checkpoint text is malformed: {0}")]
    Malformed(&'static str),
    #[error("no signature by the expected key")]
    NoSignature,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the verifier key is malformed")]
    BadKey,
}

/// A tree head: the log's origin, its size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: three lines, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or(CheckpointError::Malformed("origin"))?;
        let size = lines
            .next()
            .and_then(|l| (!(l.starts_with('+') || l.len() > 1 && l.starts_with('0'))).then_some(l))
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or(CheckpointError::Malformed("tree size"))?;
        let root: Hash = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|v| v.try_into().ok())
            .ok_or(CheckpointError::Malformed("root hash"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// The log's signing key. Its name is the checkpoint origin.
pub struct LogKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogKey({}, [REDACTED])", self.name)
    }
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

impl LogKey {
    /// From 32 secret bytes (the caller supplies the randomness).
    pub fn from_secret(name: &str, secret: [u8; 32]) -> Result<Self, CheckpointError> {
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
            return Err(CheckpointError::BadKey);
        }
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&secret),
        })
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The signed note for a checkpoint whose origin is this key's name.
    pub fn sign(&self, size: u64, root: Hash) -> String {
        self.sign_with(size, root, &[])
    }

    /// The same, with extension lines after the root (non-empty, no
    /// newlines), which the signature covers.
    pub fn sign_with(&self, size: u64, root: Hash, extensions: &[String]) -> String {
        let cp = Checkpoint {
            origin: self.name.clone(),
            size,
            root,
        };
        let mut body = cp.body();
        for e in extensions
            .iter()
            .filter(|e| !e.is_empty() && !e.contains('\n'))
        {
            body.push_str(e);
            body.push('\n');
        }
        let sig = self.key.sign(body.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A public verifier key, written as `name+keyid+base64(0x01‖key)` (the
/// note verifier-key format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    key: VerifyingKey,
}

impl LogVerifier {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn encode(&self) -> String {
        let mut blob = vec![ALG_ED25519];
        blob.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, &self.key)),
            B64.encode(blob)
        )
    }

    pub fn parse(s: &str) -> Result<Self, CheckpointError> {
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CheckpointError::BadKey);
        };
        let blob = B64.decode(key).map_err(|_| CheckpointError::BadKey)?;
        let (alg, raw) = blob.split_first().ok_or(CheckpointError::BadKey)?;
        let raw: [u8; 32] = raw.try_into().map_err(|_| CheckpointError::BadKey)?;
        if *alg != ALG_ED25519 {
            return Err(CheckpointError::BadKey);
        }
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| CheckpointError::BadKey)?;
        if hex::encode(key_id(name, &key)) != id {
            return Err(CheckpointError::BadKey);
        }
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses a signed checkpoint note and checks this key's signature.
    pub fn open(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        self.open_with_extensions(note).map(|(cp, _)| cp)
    }

    /// The checkpoint and its signed extension lines.
    pub fn open_with_extensions(
        &self,
        note: &str,
    ) -> Result<(Checkpoint, Vec<String>), CheckpointError> {
        let (body, sigs) = note
            .split_once("\n\n")
            .ok_or(CheckpointError::Malformed("no signature block"))?;
        let body = format!("{body}\n");
        let want_id = key_id(&self.name, &self.key);
        let mut found = false;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return Err(CheckpointError::Malformed("signature line"));
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return Err(CheckpointError::Malformed("signature line"));
            };
            if name != self.name {
                continue;
            }
            let blob = B64
                .decode(b64)
                .map_err(|_| CheckpointError::Malformed("signature encoding"))?;
            if blob.len() != 4 + 64 || blob[..4] != want_id {
                continue;
            }
            let sig =
                Signature::from_slice(&blob[4..]).map_err(|_| CheckpointError::BadSignature)?;
            self.key
                .verify(body.as_bytes(), &sig)
                .map_err(|_| CheckpointError::BadSignature)?;
            found = true;
        }
        if !found {
            return Err(CheckpointError::NoSignature);
        }
        let cp = Checkpoint::parse_body(&body)?;
        if cp.origin != self.name {
            return Err(CheckpointError::Malformed(
                "origin differs from the key name",
            ));
        }
        let extensions = body.lines().skip(3).map(str::to_owned).collect();
        Ok((cp, extensions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LogKey {
        LogKey::from_secret("precinct.example/audit", [7u8; 32]).expect("key")
    }

    #[test]
    fn signs_and_verifies_a_checkpoint() {
        let k = key();
        let note = k.sign(42, [9u8; 32]);
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(lines[0], "precinct.example/audit");
        assert_eq!(lines[1], "42");
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("\u{2014} precinct.example/audit "));
        let v = LogVerifier::parse(&k.verifier().encode()).expect("verifier");
        let cp = v.open(&note).expect("verifies");
        assert_eq!((cp.size, cp.root), (42, [9u8; 32]));
    }

    #[test]
    fn extension_lines_are_signed() {
        let k = key();
        let note = k.sign_with(7, [1u8; 32], &["precinct-previous 5".into()]);
        let (cp, ext) = k.verifier().open_with_extensions(&note).expect("verifies");
        assert_eq!((cp.size, ext), (7, vec!["precinct-previous 5".to_owned()]));
        let forged = note.replace("precinct-previous 5", "precinct-previous 4");
        assert_eq!(
            k.verifier().open(&forged),
            Err(CheckpointError::BadSignature)
        );
    }

    #[test]
    fn refuses_edited_notes_and_other_keys() {
        let k = key();
        let v = k.verifier();
        let note = k.sign(42, [9u8; 32]);
        assert_eq!(
            v.open(&note.replacen("42", "43", 1)),
            Err(CheckpointError::BadSignature)
        );
        let other = LogKey::from_secret("precinct.example/audit", [8u8; 32]).expect("key");
        assert_eq!(
            other.verifier().open(&note),
            Err(CheckpointError::NoSignature)
        );
        assert!(v.open("garbage").is_err());
        let mut enc = v.encode();
        enc.push('A');
        assert!(LogVerifier::parse(&enc).is_err());
    }
}
