//! Password hashing for the web app's accounts: Argon2id with the `argon2` crate's default
//! parameters (19 MiB, 2 passes, 1 lane; OWASP's recommendation), a 16-byte salt from the
//! operating system, stored as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH`), so
//! a hash carries its own parameters and stronger ones can come later without a migration.
//!
//! `verify_password` answers a plain `bool`: a wrong password, a malformed hash and a hash
//! whose parameters exceed `PASSWORD_HASH_MEMORY_KIB_MAX` or `PASSWORD_HASH_PASSES_MAX` (a
//! tampered row) are all `false`, and nothing here panics. For an unknown email the caller
//! verifies against `DUMMY_PHC`, so a login takes as long whether or not the account exists.
//! Not here: the rules on a new password (`domain::user::check_new_password`), storage,
//! throttling (`domain::throttle`). Tests at the bottom.

use crate::limits::{PASSWORD_HASH_MEMORY_KIB_MAX, PASSWORD_HASH_PASSES_MAX};
use crate::store::StoreError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};

/// Bytes of salt in a new hash (the PHC string format's recommended 16).
const SALT_BYTES: usize = 16;

/// A valid hash, with the default parameters, of a random string nobody knows (made once with
/// `hash_password`): what a login verifies against when the email is unknown, so it costs
/// the same time as a real account's.
pub const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$GeLTbrz3MnfN+6FPmSGdbw$cVXe0H7Bo7QNS0v17IxMfdM6pc+W3CZnhH/OHeaz2a0";

/// Hashes `password` with Argon2id (default parameters) and a fresh random salt; returns the
/// PHC string to store. Fails only if the operating system has no secure randomness.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt)
        .map_err(|error| StoreError::Backend(format!("no secure randomness: {error}").into()))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|error| StoreError::Backend(format!("password salt: {error}").into()))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| StoreError::Backend(format!("password hash: {error}").into()))?;
    Ok(hash.to_string())
}

/// Whether `password` is the one `phc` was made from. `false` for a malformed PHC string or
/// one whose parameters are beyond the limits (checked before any work is done).
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > PASSWORD_HASH_MEMORY_KIB_MAX || params.t_cost() > PASSWORD_HASH_PASSES_MAX
    {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters every new hash is made with, as its PHC string writes them.
    const DEFAULT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash_password("correct horse battery staple").expect("hash");
        assert!(phc.starts_with(DEFAULT_PREFIX), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("correct horse battery stapler", &phc));
        assert!(!verify_password("", &phc));
    }

    #[test]
    fn each_hash_has_its_own_salt() {
        let first = hash_password("same password").expect("hash");
        let second = hash_password("same password").expect("hash");
        assert_ne!(first, second);
        assert!(verify_password("same password", &second));
    }

    #[test]
    fn malformed_hashes_verify_nothing() {
        let phc = hash_password("a password").expect("hash");
        let cases = [
            String::new(),
            "a password".into(),
            "$argon2id$".into(),
            "$argon2id$v=19$m=19456,t=2,p=1$".into(),
            phc.replace("$argon2id$", "$scrypt$"),
            phc.replace("m=19456", "m=banana"),
            phc.replace("t=2", "t=0"),
            phc[..phc.len() - 4].to_string(),
            format!("{phc}$"),
            phc.replace('$', "\u{0}"),
        ];
        for case in cases {
            assert!(!verify_password("a password", &case), "{case:?}");
        }
    }

    #[test]
    fn hashes_beyond_the_cost_limits_are_refused_without_running() {
        // Made with the limits exactly: still verified.
        let at_limit = Params::new(PASSWORD_HASH_MEMORY_KIB_MAX, 1, 1, None).expect("params");
        let phc = hash_with(at_limit, "a password");
        assert!(verify_password("a password", &phc));
        let passes = Params::new(8, PASSWORD_HASH_PASSES_MAX, 1, None).expect("params");
        assert!(verify_password(
            "a password",
            &hash_with(passes, "a password")
        ));
        // One over either limit: refused, though the hash is right (the text is edited only
        // in its parameters, so it would not verify anyway; the point is that nothing runs:
        // m=4294967295 would ask for 4 TiB).
        let memory = phc.replace(
            &format!("m={PASSWORD_HASH_MEMORY_KIB_MAX}"),
            &format!("m={}", PASSWORD_HASH_MEMORY_KIB_MAX + 1),
        );
        assert!(!verify_password("a password", &memory));
        assert!(!verify_password(
            "a password",
            &phc.replace(&format!("m={PASSWORD_HASH_MEMORY_KIB_MAX}"), "m=4294967295")
        ));
        let over_passes = Params::new(8, PASSWORD_HASH_PASSES_MAX + 1, 1, None).expect("params");
        assert!(!verify_password(
            "a password",
            &hash_with(over_passes, "a password")
        ));
    }

    #[test]
    fn the_dummy_hash_is_valid_and_as_costly_as_a_real_one() {
        assert!(DUMMY_PHC.starts_with(DEFAULT_PREFIX));
        let parsed = PasswordHash::new(DUMMY_PHC).expect("a valid PHC string");
        let params = Params::try_from(&parsed).expect("params");
        let default = Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
        assert_eq!(params.output_len(), Some(Params::DEFAULT_OUTPUT_LEN));
        assert!(!verify_password("", DUMMY_PHC));
        assert!(!verify_password("password123", DUMMY_PHC));
    }

    fn hash_with(params: Params, password: &str) -> String {
        let salt = SaltString::encode_b64(&[7; SALT_BYTES]).expect("salt");
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string()
    }
}
