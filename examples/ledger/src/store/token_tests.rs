//! API tokens in the store: only the hash is kept, lookup by id finds the tenant, listing is
//! per tenant, revocation sticks (and keeps its first time), each change is audited, and an
//! unknown tenant or token is refused.

use super::tests::{TempDb, seed};
use super::*;
use crate::domain::token::{PresentedToken, Scope, TokenHash, TokenId};

fn hash(byte: u8) -> TokenHash {
    TokenHash::of(&[byte; 32])
}

#[test]
fn tokens_are_stored_hashed_found_by_id_listed_per_tenant_and_revoked() {
    let db = TempDb::new("tokens");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let other = seed(&mut store, "other");
    let read = store
        .create_token(acme, Scope::Read, &hash(1), Timestamp(10))
        .expect("token");
    let write = store
        .create_token(acme, Scope::Write, &hash(2), Timestamp(11))
        .expect("token");
    let theirs = store
        .create_token(other, Scope::Write, &hash(3), Timestamp(12))
        .expect("token");

    let found = store.token(write).expect("lookup").expect("exists");
    assert_eq!(found.tenant, acme);
    assert_eq!(found.scope, Scope::Write);
    assert!(found.hash.matches(&hash(2)));
    assert!(!found.hash.matches(&hash(3)));
    assert_eq!(found.revoked_at, None);
    assert_eq!(store.token(TokenId(9_999)).expect("lookup"), None);

    let listed: Vec<TokenId> = store
        .tokens(acme)
        .expect("list")
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, [read, write]);
    assert_eq!(
        store
            .tokens(other)
            .expect("list")
            .iter()
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        [theirs]
    );

    let revoked = store.revoke_token(read, Timestamp(20)).expect("revoke");
    assert_eq!(revoked.revoked_at, Some(Timestamp(20)));
    let again = store
        .revoke_token(read, Timestamp(30))
        .expect("revoke again");
    assert_eq!(
        again.revoked_at,
        Some(Timestamp(20)),
        "the first revocation stands"
    );
    assert_eq!(
        store.token(read).expect("lookup").expect("kept").revoked_at,
        Some(Timestamp(20))
    );

    let actions: Vec<String> = store
        .audit_records(acme, 0, 1_000)
        .expect("audit")
        .into_iter()
        .map(|r| r.action)
        .filter(|a| a.starts_with("token."))
        .collect();
    assert_eq!(actions, ["token.created", "token.created", "token.revoked"]);
    assert!(store.check(None).expect("check").is_clean());

    let missing = store.revoke_token(TokenId(9_999), Timestamp(1));
    assert_eq!(missing.expect_err("unknown").code(), "not_found");
    let unknown_tenant = store.create_token(TenantId(777), Scope::Read, &hash(4), Timestamp(1));
    assert_eq!(
        unknown_tenant.expect_err("unknown").code(),
        "unknown_tenant"
    );
}

#[test]
fn a_presented_token_checks_against_the_stored_hash() {
    let db = TempDb::new("tokens-presented");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let secret = [7u8; 32];
    let id = store
        .create_token(acme, Scope::Read, &TokenHash::of(&secret), Timestamp(1))
        .expect("token");
    let text = PresentedToken { id, secret }.to_text();
    let presented = PresentedToken::parse(&text).expect("parses");
    let stored = store.token(presented.id).expect("lookup").expect("exists");
    assert!(stored.hash.matches(&presented.hash()));
    let mut wrong = presented.clone();
    wrong.secret[0] ^= 0xff;
    assert!(!stored.hash.matches(&wrong.hash()));
}
