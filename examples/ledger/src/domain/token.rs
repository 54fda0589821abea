//! API tokens: their scope, their text form and how a presented token is checked against the
//! stored hash.
//!
//! A token reads `ldg_{id}_{secret}`: `id` is the stored row (so a check is one lookup), the
//! secret 32 random bytes as 64 lowercase hex digits. Only SHA-256 of the secret is stored; the
//! token is shown once, when it is made. SHA-256 rather than a password hash: the secret has
//! 256 bits of entropy, so nothing can be gained by slowing a guess down. Pure: the random
//! bytes and the clock come from the caller (`crate::service`). Not here: storage, HTTP.

use super::EntryError;
use sha2::{Digest, Sha256};
use std::fmt;

/// A token's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId(pub i64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a token may do. `Write` includes reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    /// The stored and displayed name: `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// `read` or `write`, exactly.
    pub fn parse(text: &str) -> Result<Scope, EntryError> {
        match text {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            _ => Err(EntryError::invalid("scope", "a scope is read or write")),
        }
    }

    /// Whether a token of this scope may do what `needed` names.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

/// Bytes of secret in a token.
pub const TOKEN_SECRET_BYTES: usize = 32;

const PREFIX: &str = "ldg_";

/// SHA-256 of a token's secret: what the store keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    /// The hash of a secret.
    pub fn of(secret: &[u8; TOKEN_SECRET_BYTES]) -> TokenHash {
        TokenHash(Sha256::digest(secret).into())
    }

    /// Compares in time independent of where the hashes differ.
    pub fn matches(&self, other: &TokenHash) -> bool {
        let difference = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        difference == 0
    }
}

/// A token as presented by a client, split into its id and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken {
    pub id: TokenId,
    pub secret: [u8; TOKEN_SECRET_BYTES],
}

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PresentedToken {
    /// Parses `ldg_{id}_{64 hex digits}`; `None` for anything else (the caller answers 401
    /// without saying which part was wrong).
    pub fn parse(text: &str) -> Option<PresentedToken> {
        let rest = text.strip_prefix(PREFIX)?;
        let (id, secret_hex) = rest.split_once('_')?;
        if id.is_empty() || id.len() > 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id = TokenId(id.parse().ok()?);
        if secret_hex.len() != TOKEN_SECRET_BYTES * 2 {
            return None;
        }
        let mut secret = [0u8; TOKEN_SECRET_BYTES];
        for (byte, pair) in secret.iter_mut().zip(secret_hex.as_bytes().chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Some(PresentedToken { id, secret })
    }

    /// The token's text, as shown once to its owner.
    pub fn to_text(&self) -> String {
        let mut text = format!("{PREFIX}{}_", self.id.0);
        for byte in self.secret {
            text.push_str(&format!("{byte:02x}"));
        }
        text
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.secret)
    }
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> PresentedToken {
        let mut secret = [0u8; TOKEN_SECRET_BYTES];
        for (i, byte) in secret.iter_mut().enumerate() {
            *byte = u8::try_from(i * 7 % 256).unwrap();
        }
        PresentedToken {
            id: TokenId(42),
            secret,
        }
    }

    #[test]
    fn text_round_trips() {
        let text = token().to_text();
        assert!(text.starts_with("ldg_42_"));
        assert_eq!(text.len(), "ldg_42_".len() + 64);
        assert_eq!(PresentedToken::parse(&text), Some(token()));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = token().to_text();
        let cases = [
            String::new(),
            "ldg_".into(),
            "ldg_42".into(),
            good.replace("ldg_", "xyz_"),
            good.replace("_42_", "__"),
            good.replace("_42_", "_-4_"),
            good.replace("_42_", "_1234567890123456789_"),
            good[..good.len() - 1].to_string(),
            format!("{good}0"),
            good.to_uppercase(),
            format!("{}g", &good[..good.len() - 1]),
        ];
        for case in cases {
            assert_eq!(PresentedToken::parse(&case), None, "{case}");
        }
    }

    #[test]
    fn hashes_match_only_their_secret() {
        let a = token();
        let mut b = token();
        b.secret[31] ^= 1;
        assert!(a.hash().matches(&token().hash()));
        assert!(!a.hash().matches(&b.hash()));
        assert_eq!(format!("{:?}", a), "PresentedToken { id: TokenId(42), .. }");
    }

    #[test]
    fn write_allows_read_not_the_reverse() {
        assert!(Scope::Write.allows(Scope::Read));
        assert!(Scope::Write.allows(Scope::Write));
        assert!(Scope::Read.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Write));
        assert_eq!(Scope::parse("write").unwrap(), Scope::Write);
        assert_eq!(Scope::parse("admin").unwrap_err().code(), "invalid");
    }
}
