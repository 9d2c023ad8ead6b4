//! What a user proves at login: a password (argon2id, at least 12
//! characters, not on the banned list), a TOTP code (6 digits, 30 s steps,
//! each step usable once) and one-time recovery codes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::OnceLock;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::DomainError;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;
pub const TOTP_DIGITS: usize = 6;
pub const TOTP_STEP_SECS: u64 = 30;
pub const RECOVERY_CODE_COUNT: usize = 10;

static BUILTIN_BANNED: &str = include_str!("banned-passwords.txt");

fn builtin_banned() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| parse_banned_list(BUILTIN_BANNED))
}

/// One password a line; blank lines and `#` comments ignored; compared
/// case-insensitively.
pub fn parse_banned_list(text: &str) -> HashSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
}

/// A password that passed the rules. It never prints.
#[derive(Debug, Clone)]
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Checks a chosen password against the rules; `extra_banned` is the
    /// department's own list (updated quarterly, CJIS IA-5(1)).
    pub fn new(
        candidate: &str,
        username: &str,
        extra_banned: &HashSet<String>,
    ) -> Result<Self, DomainError> {
        let chars = candidate.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(DomainError::PasswordTooShort {
                min: MIN_PASSWORD_CHARS,
            });
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(DomainError::PasswordTooLong {
                max: MAX_PASSWORD_CHARS,
            });
        }
        let lower = candidate.to_lowercase();
        let first = lower.chars().next();
        let one_char_repeated = lower.chars().all(|c| Some(c) == first);
        if one_char_repeated || builtin_banned().contains(&lower) || extra_banned.contains(&lower) {
            return Err(DomainError::PasswordBanned);
        }
        if !username.is_empty() && lower.contains(&username.to_lowercase()) {
            return Err(DomainError::PasswordContainsUsername);
        }
        Ok(Self(SecretString::from(candidate.to_owned())))
    }

    /// A system-generated one-time password: 16 characters from an alphabet
    /// without look-alikes (about 90 bits).
    pub fn generate() -> Self {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
        let mut rng = OsRng;
        let s: String = (0..16)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect();
        Self(SecretString::from(s))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// argon2id with a random 128-bit salt, in PHC string form.
    pub fn hash(&self) -> Result<String, DomainError> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(self.0.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| DomainError::invalid("password", "could not be hashed"))
    }
}

/// Checks a password against a stored PHC hash. A malformed hash never
/// verifies.
pub fn verify_password(candidate: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(candidate.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so that the time a
/// login takes does not reveal whether a user name is known.
pub fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| NewPassword::generate().hash().unwrap_or_default())
}

/// A TOTP shared secret (160 bits, base32 for authenticator apps).
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_base32(s: &str) -> Result<Self, DomainError> {
        Secret::Encoded(s.to_owned())
            .to_bytes()
            .map(Self)
            .map_err(|_| DomainError::invalid("totp_secret", "not valid base32"))
    }

    pub fn to_base32(&self) -> String {
        Secret::Raw(self.0.clone()).to_encoded().to_string()
    }

    fn totp(&self) -> Result<TOTP, DomainError> {
        Ok(TOTP::new_unchecked(
            Algorithm::SHA1,
            TOTP_DIGITS,
            1,
            TOTP_STEP_SECS,
            self.0.clone(),
        ))
    }

    /// The code for a moment (used by tests and by nobody else).
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.totp()
            .map(|t| t.generate(unix_secs))
            .unwrap_or_default()
    }

    /// Verifies a code at `unix_secs`, accepting one step of clock drift either
    /// way. Returns the step that matched, which must be later than
    /// `last_used_step` so that a code is never accepted twice.
    pub fn verify(&self, code: &str, unix_secs: u64, last_used_step: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp().ok()?;
        let now_step = unix_secs / TOTP_STEP_SECS;
        let mut matched = None;
        for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
            let expected = totp.generate(step * TOTP_STEP_SECS);
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) {
                matched = Some(step);
            }
        }
        matched.filter(|s| last_used_step.is_none_or(|last| *s > last))
    }

    /// The `otpauth://` URI an authenticator app reads from the QR code.
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> String {
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
            enc(issuer),
            enc(account),
            self.to_base32(),
            enc(issuer)
        )
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Ten one-time recovery codes (`xxxx-xxxx-xxxx`, 60 bits each). Only their
/// SHA-256 is stored; high entropy makes a slow hash unnecessary.
pub fn generate_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = OsRng;
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let raw: String = (0..12)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect();
            format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12])
        })
        .collect()
}

/// The stored form of a recovery code (and of session tokens).
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(normalize_code(s).as_bytes()))
}

fn normalize_code(s: &str) -> String {
    s.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        let none = HashSet::new();
        assert_eq!(
            NewPassword::new("short", "alice", &none).err(),
            Some(DomainError::PasswordTooShort { min: 12 })
        );
        assert_eq!(
            NewPassword::new("Password1234", "alice", &none).err(),
            Some(DomainError::PasswordBanned)
        );
        assert_eq!(
            NewPassword::new("aaaaaaaaaaaaaaaa", "bob", &none).err(),
            Some(DomainError::PasswordBanned)
        );
        assert_eq!(
            NewPassword::new("my-alice-is-great", "alice", &none).err(),
            Some(DomainError::PasswordContainsUsername)
        );
        let dept = parse_banned_list("# dept list\nCentralPrecinct1\n");
        assert_eq!(
            NewPassword::new("centralprecinct1", "bob", &dept).err(),
            Some(DomainError::PasswordBanned)
        );
        let ok = NewPassword::new("correct horse battery", "alice", &none).expect("valid");
        let h = ok.hash().expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!format!("{ok:?}").contains("horse"));
    }

    #[test]
    fn totp_accepts_drift_and_refuses_replay() {
        let s = TotpSecret::generate();
        let t = 1_796_112_195;
        let code = s.code_at(t);
        let step = s.verify(&code, t, None).expect("valid now");
        assert_eq!(s.verify(&code, t, Some(step)), None, "replay refused");
        assert!(s.verify(&s.code_at(t - 30), t, None).is_some());
        assert!(s.verify(&s.code_at(t - 120), t, None).is_none());
        assert!(s.verify("12345", t, None).is_none());
        let back = TotpSecret::from_base32(&s.to_base32()).expect("base32");
        assert_eq!(back.code_at(t), code);
        assert!(s
            .provisioning_uri("Precinct", "alice")
            .starts_with("otpauth://totp/Precinct:alice?secret="));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_normalized() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        let set: HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), 10);
        assert_eq!(
            sha256_hex(&codes[0]),
            sha256_hex(&format!(" {} ", codes[0].to_uppercase()))
        );
    }
}
