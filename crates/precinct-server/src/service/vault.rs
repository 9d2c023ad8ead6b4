//! Attachments at rest: AES-256-GCM under the department's attachment key
//! (`attachments.key` in the data directory, or a configured key file),
//! with the plaintext's SHA-256 kept beside it and checked on every read.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use precinct_store::SealedBlob;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The key; `Debug` never prints it.
pub struct AttachmentKey(Aes256Gcm);

impl std::fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttachmentKey([redacted])")
    }
}

impl AttachmentKey {
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self(Aes256Gcm::new(&secret.into()))
    }

    /// Reads the key file, or creates it (mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        super::auditlog::load_or_create_secret(path).map(Self::from_secret)
    }

    /// A random key, for tests.
    pub fn ephemeral() -> Self {
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        Self::from_secret(secret)
    }

    /// Encrypts `plain`, bound to the document it belongs to.
    pub fn seal(&self, document_id: &str, plain: &[u8]) -> Result<SealedBlob, String> {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: document_id.as_bytes(),
                },
            )
            .map_err(|_| "the attachment could not be encrypted".to_owned())?;
        Ok(SealedBlob {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts and checks the bytes against their recorded SHA-256; a
    /// failure of either means the stored attachment was altered.
    pub fn open(
        &self,
        document_id: &str,
        blob: &SealedBlob,
        sha256: &str,
    ) -> Result<Vec<u8>, String> {
        if blob.nonce.len() != 12 {
            return Err("the stored attachment is damaged".into());
        }
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(&blob.nonce),
                Payload {
                    msg: &blob.ciphertext,
                    aad: document_id.as_bytes(),
                },
            )
            .map_err(|_| "the stored attachment does not decrypt".to_owned())?;
        if hex::encode(Sha256::digest(&plain)) != sha256 {
            return Err("the attachment does not match its recorded SHA-256".into());
        }
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_attachments_open_only_unaltered() {
        let key = AttachmentKey::ephemeral();
        let plain = b"scene photo";
        let sha = hex::encode(Sha256::digest(plain));
        let mut blob = key.seal("doc-1", plain).expect("seal");
        assert!(!blob.ciphertext.windows(5).any(|w| w == b"scene"));
        assert_eq!(key.open("doc-1", &blob, &sha).expect("open"), plain);
        assert!(
            key.open("doc-2", &blob, &sha).is_err(),
            "bound to its document"
        );
        assert!(AttachmentKey::ephemeral()
            .open("doc-1", &blob, &sha)
            .is_err());
        blob.ciphertext[0] ^= 1;
        assert!(key.open("doc-1", &blob, &sha).is_err());
    }
}
