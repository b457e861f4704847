//! Random tokens and ids, and the hashes they are stored as.

use sha2::{Digest, Sha256};

/// Crockford's base-32 alphabet: no I, L, O, U, so ids survive being read aloud or retyped.
const BASE32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// A random id with a type prefix, `pln_` + 26 base-32 characters (130 bits).
pub fn random_id(prefix: &str) -> String {
    let bytes = random_bytes::<26>();
    let body: String = bytes
        .iter()
        .map(|b| BASE32[(b & 31) as usize] as char)
        .collect();
    format!("{prefix}_{body}")
}

/// A random mandate reference suffix: `length` upper-case base-32 characters (5 bits each).
pub fn random_reference(length: usize) -> String {
    let bytes = random_bytes::<35>();
    bytes[..length.min(35)]
        .iter()
        .map(|b| BASE32[(b & 31) as usize].to_ascii_uppercase() as char)
        .collect()
}

/// A random 6-digit code for e-mail confirmation, `000000` to `999999`, uniform.
pub fn random_code() -> String {
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>());
        // Reject the top of the range so every code is equally likely.
        if n < u32::MAX - u32::MAX % 1_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// A secret token for a link: 32 random bytes (256 bits) as 64 hex characters.
pub fn random_token() -> String {
    hex::encode(random_bytes::<32>())
}

/// The hex SHA-256 of a text or bytes: how tokens and API keys are stored.
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_130_bits() {
        let id = random_id("pln");
        assert!(id.starts_with("pln_"));
        assert_eq!(id.len(), 4 + 26);
        assert_ne!(random_id("pln"), id);
    }

    #[test]
    fn tokens_are_256_bits_of_hex_and_differ() {
        let token = random_token();
        assert_eq!(token.len(), 64);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(random_token(), token);
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
