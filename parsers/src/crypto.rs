//! Personal data at rest: petitioners' identity and phone numbers are sealed with
//! ChaCha20-Poly1305 under a key from the settings (`privacy.data_key`), and identity numbers
//! also get a keyed hash (HMAC-SHA256) so that the store can find "the same petitioner" without
//! decrypting anything. A database dump or backup then shows neither.
//!
//! Sealed text is `v1:` + base64(nonce ‖ ciphertext). Text without the prefix is plaintext
//! written before sealing existed; it still reads, and the store's background pass seals it.
//!
//! The sealer is process-wide (installed once from the settings at start-up), because every
//! store query that reads a case needs it and the store is shared by every part of the server.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "v1:";
const NONCE_BYTES: usize = 12;

pub struct Sealer {
    aead: ChaCha20Poly1305,
    lookup_key: [u8; 32],
}

/// One independent key per use of the master key (also the recordings' file keys).
pub fn derive(master: &[u8], purpose: &str) -> [u8; 32] {
    // An HMAC keyed with the master key, over the purpose: one independent key per use.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("no data key installed: the sealer is set up at start-up from privacy.data_key")]
    NotInstalled,
    #[error("a sealed value does not open: the data key is wrong or the value was altered")]
    Tampered,
}

impl Sealer {
    pub fn new(master: &[u8]) -> Sealer {
        let aead_key = derive(master, "courtlink:aead:v1");
        Sealer {
            aead: ChaCha20Poly1305::new(Key::from_slice(&aead_key)),
            lookup_key: derive(master, "courtlink:lookup:v1"),
        }
    }

    pub fn seal(&self, plain: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a fresh nonce cannot fail for inputs this small.
        let sealed = self
            .aead
            .encrypt(&nonce, plain.as_bytes())
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(bytes))
    }

    pub fn open(&self, stored: &str) -> Result<String, CryptoError> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let bytes = B64.decode(body).map_err(|_| CryptoError::Tampered)?;
        if bytes.len() < NONCE_BYTES {
            return Err(CryptoError::Tampered);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Tampered)
    }

    /// The keyed hash that finds equal identity numbers (spaces and case of the `X` ignored).
    pub fn lookup(&self, identity_number: &str) -> String {
        let normal: String = identity_number
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup_key)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        mac.update(normal.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

static SEALER: OnceLock<Sealer> = OnceLock::new();

/// Installs the process's sealer. A second installation with another key is refused: one
/// process serves one database.
pub fn install(master: &[u8]) -> anyhow::Result<()> {
    let candidate = Sealer::new(master);
    let probe = candidate.lookup("probe");
    let installed = SEALER.get_or_init(|| candidate);
    if installed.lookup("probe") != probe {
        anyhow::bail!("a different privacy.data_key is already installed in this process");
    }
    Ok(())
}

pub fn sealer() -> Result<&'static Sealer, CryptoError> {
    SEALER.get().ok_or(CryptoError::NotInstalled)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_detects_tampering() {
        let s = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let a = s.seal("33010619650101123X");
        let b = s.seal("33010619650101123X");
        assert!(is_sealed(&a));
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("3301"));
        assert_eq!(s.open(&a).unwrap(), "33010619650101123X");
        // Plaintext from before sealing reads as it is.
        assert_eq!(s.open("13800001234").unwrap(), "13800001234");
        // One flipped character, a truncation, another key: refused.
        let mut bad = a.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert!(s.open(&String::from_utf8(bad).unwrap()).is_err());
        assert!(s.open("v1:AAAA").is_err());
        let other = Sealer::new(b"another key, also 32 bytes long!");
        assert!(other.open(&a).is_err());
    }

    #[test]
    fn lookups_are_keyed_and_normalised() {
        let s = Sealer::new(b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            s.lookup("33010619650101123x"),
            s.lookup(" 33010619650101123X ")
        );
        assert_ne!(
            s.lookup("33010619650101123X"),
            s.lookup("330106196501011230")
        );
        let other = Sealer::new(b"another key, also 32 bytes long!");
        assert_ne!(
            s.lookup("33010619650101123X"),
            other.lookup("33010619650101123X")
        );
    }
}
