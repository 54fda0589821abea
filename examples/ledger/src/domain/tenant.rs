//! `TenantSlug`: the short name that identifies a tenant (an organisation) in URLs and on the
//! command line. No storage here. Tests at the bottom.

use super::error::EntryError;
use crate::limits::TENANT_SLUG_BYTES_MAX;
use std::fmt;

/// Invariant: 1 to `TENANT_SLUG_BYTES_MAX` bytes of `a-z`, `0-9` and `-`, not starting or
/// ending with `-`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Checks `slug` against the rules of the type.
    pub fn new(slug: &str) -> Result<TenantSlug, EntryError> {
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        let valid = !slug.is_empty()
            && slug.len() <= TENANT_SLUG_BYTES_MAX
            && slug.bytes().all(allowed)
            && !slug.starts_with('-')
            && !slug.ends_with('-');
        if valid {
            Ok(TenantSlug(slug.to_owned()))
        } else {
            Err(EntryError::Invalid {
                field: "tenant".into(),
                reason: "a slug is 1 to 64 bytes of a-z, 0-9 and inner -".into(),
            })
        }
    }

    /// The slug as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for good in ["acme", "acme-2024", "a", &"a".repeat(TENANT_SLUG_BYTES_MAX)] {
            assert!(TenantSlug::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Acme",
            "-acme",
            "acme-",
            "ac me",
            "acmé",
            &"a".repeat(TENANT_SLUG_BYTES_MAX + 1),
        ] {
            assert!(TenantSlug::new(bad).is_err(), "{bad}");
        }
    }
}
