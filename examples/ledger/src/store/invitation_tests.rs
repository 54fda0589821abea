//! Roles, removals and invitations in the store: a role change and a removal are audited and
//! never leave a tenant without an owner; an invitation stores only its hash, is found by it
//! from any tenant, is accepted once, before its expiry, by someone not yet a member (the
//! membership comes with it, all or nothing); the writer runs the same operations, scoped to
//! the request's tenant; a cancelled one expires at once; `check` stays clean after all of it.
//! Also: the audit log read backwards by pages, and the upgrade from schema version 6.

use super::tests::{TempDb, seed};
use super::*;
use crate::domain::token::TOKEN_SECRET_BYTES;

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo";

fn user(store: &mut impl Store, address: &str) -> UserId {
    store
        .create_user(
            &Email::parse(address).expect("email"),
            &DisplayName::parse("Some One").expect("name"),
            HASH,
            Timestamp(100),
        )
        .expect("user")
}

fn secret(byte: u8) -> TokenHash {
    TokenHash::of(&[byte; TOKEN_SECRET_BYTES])
}

fn refused_field(result: Result<impl fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Refused(EntryError::Invalid { field, .. })) => field,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn actions(store: &mut SqliteStore, tenant: TenantId) -> Vec<String> {
    store
        .audit_records(tenant, 0, 1_000)
        .expect("audit")
        .into_iter()
        .map(|record| record.action)
        .collect()
}

#[test]
fn roles_change_and_members_leave_but_the_last_owner_stays() {
    let db = TempDb::new("invitations-roles");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let olga = user(&mut store, "olga@example.com");
    let ann = user(&mut store, "ann@example.com");
    store.add_member(acme, olga, Role::Owner).expect("owner");
    store.add_member(acme, ann, Role::Accountant).expect("ann");

    assert_eq!(
        refused_field(store.set_role(acme, olga, Role::Viewer)),
        "role"
    );
    assert_eq!(refused_field(store.remove_member(acme, olga)), "role");
    store
        .set_role(acme, ann, Role::Owner)
        .expect("a second owner");
    store
        .set_role(acme, olga, Role::Viewer)
        .expect("now olga may go");
    assert_eq!(
        store.membership(acme, olga).expect("read"),
        Some(Role::Viewer)
    );
    store.remove_member(acme, olga).expect("removed");
    assert_eq!(store.membership(acme, olga).expect("read"), None);
    assert!(matches!(
        store.remove_member(acme, olga),
        Err(StoreError::NotFound { what: "member", .. })
    ));
    assert!(matches!(
        store.set_role(acme, olga, Role::Owner),
        Err(StoreError::NotFound { what: "member", .. })
    ));
    let actions = actions(&mut store, acme);
    assert_eq!(
        actions[actions.len() - 3..],
        ["member.role_set", "member.role_set", "member.removed"]
    );
    assert!(store.check(Some(acme)).expect("check").is_clean());
}

#[test]
fn an_invitation_is_found_by_its_hash_and_accepted_once() {
    let db = TempDb::new("invitations-accept");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let globex = seed(&mut store, "globex");
    let ann = user(&mut store, "ann@example.com");
    let bob = user(&mut store, "bob@example.com");
    let email = Email::parse("ann@example.com").expect("email");
    let id = store
        .create_invitation(
            acme,
            &secret(1),
            Role::Accountant,
            Some(&email),
            Timestamp(1_000),
            Timestamp(10),
        )
        .expect("invitation");

    let found = store
        .invitation_by_hash(&secret(1))
        .expect("read")
        .expect("found");
    assert_eq!(found.id, id);
    assert_eq!(found.tenant, acme);
    assert_eq!(found.slug.as_str(), "acme");
    assert_eq!(found.role, Role::Accountant);
    assert_eq!(found.email, Some(email));
    assert_eq!(found.accepted_at, None);
    assert_eq!(store.invitation_by_hash(&secret(2)).expect("read"), None);
    assert!(store.invitations(globex).expect("list").is_empty());

    let joined = store
        .accept_invitation(id, ann, Timestamp(999))
        .expect("accepted");
    assert_eq!((joined.tenant, joined.role), (acme, Role::Accountant));
    assert_eq!(
        store.membership(acme, ann).expect("read"),
        Some(Role::Accountant)
    );
    assert_eq!(
        refused_field(store.accept_invitation(id, bob, Timestamp(999))),
        "invitation"
    );
    assert_eq!(store.membership(acme, bob).expect("read"), None);
    let listed = store.invitations(acme).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].accepted_at, Some(Timestamp(999)));
    let actions = actions(&mut store, acme);
    assert_eq!(
        actions[actions.len() - 3..],
        ["invitation.created", "member.added", "invitation.accepted"]
    );
    assert!(store.check(None).expect("check").is_clean());
}

#[test]
fn an_expired_invitation_or_a_member_already_is_refused_and_writes_nothing() {
    let db = TempDb::new("invitations-refused");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let ann = user(&mut store, "ann@example.com");
    let expired = store
        .create_invitation(
            acme,
            &secret(3),
            Role::Viewer,
            None,
            Timestamp(50),
            Timestamp(10),
        )
        .expect("invitation");
    assert_eq!(
        refused_field(store.accept_invitation(expired, ann, Timestamp(50))),
        "invitation"
    );
    assert_eq!(store.membership(acme, ann).expect("read"), None);

    store.add_member(acme, ann, Role::Viewer).expect("member");
    let again = store
        .create_invitation(
            acme,
            &secret(4),
            Role::Owner,
            None,
            Timestamp(500),
            Timestamp(10),
        )
        .expect("invitation");
    let records = actions(&mut store, acme).len();
    assert!(matches!(
        store.accept_invitation(again, ann, Timestamp(60)),
        Err(StoreError::AlreadyExists { what: "member", .. })
    ));
    assert_eq!(actions(&mut store, acme).len(), records, "nothing written");
    let listed = store.invitations(acme).expect("list");
    assert_eq!(listed[1].accepted_at, None, "still unused");
    assert!(matches!(
        store.accept_invitation(InvitationId(999), ann, Timestamp(60)),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn the_writer_runs_people_and_token_writes_in_the_requests_tenant_only() {
    let db = TempDb::new("invitations-group");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let globex = seed(&mut store, "globex");
    let ann = user(&mut store, "ann@example.com");
    let olga = user(&mut store, "olga@example.com");
    store.add_member(acme, olga, Role::Owner).expect("owner");
    let token = store
        .create_token(
            globex,
            crate::domain::token::Scope::Read,
            &secret(9),
            Timestamp(5),
        )
        .expect("token");
    let request = |tenant, op| WriteRequest {
        tenant: Some(tenant),
        actor: Actor::system(),
        op,
    };
    let requests = [
        request(
            acme,
            WriteOp::CreateInvitation {
                hash: secret(5),
                role: Role::Viewer,
                email: None,
                expires_at: Timestamp(i64::MAX),
                now: Timestamp(5),
            },
        ),
        request(
            acme,
            WriteOp::RevokeToken {
                id: token,
                now: Timestamp(6),
            },
        ),
        request(acme, WriteOp::RemoveMember { user: olga }),
        request(
            acme,
            WriteOp::CreateToken {
                scope: crate::domain::token::Scope::Write,
                hash: secret(6),
                now: Timestamp(7),
            },
        ),
    ];
    let results = store.write_group(&requests).expect("group");
    let Ok(WriteOutcome::Invitation(invitation)) = results[0] else {
        panic!("{:?}", results[0]);
    };
    assert!(matches!(
        results[1],
        Err(StoreError::NotFound { what: "token", .. })
    ));
    assert!(
        matches!(results[2], Err(StoreError::Refused(_))),
        "the last owner"
    );
    assert!(matches!(results[3], Ok(WriteOutcome::Token(_))));
    assert_eq!(
        store.token(token).expect("read").expect("token").revoked_at,
        None
    );

    let accept = |tenant| {
        request(
            tenant,
            WriteOp::AcceptInvitation {
                id: invitation,
                user: ann,
                now: Timestamp(8),
            },
        )
    };
    let results = store
        .write_group(&[
            accept(globex),
            accept(acme),
            request(
                acme,
                WriteOp::SetRole {
                    user: ann,
                    role: Role::Owner,
                },
            ),
        ])
        .expect("group");
    assert!(matches!(
        results[0],
        Err(StoreError::NotFound {
            what: "invitation",
            ..
        })
    ));
    assert!(matches!(results[1], Ok(WriteOutcome::Joined(_))));
    assert!(matches!(results[2], Ok(WriteOutcome::Done)));
    assert_eq!(
        store.membership(acme, ann).expect("read"),
        Some(Role::Owner)
    );
    assert_eq!(store.membership(globex, ann).expect("read"), None);
    assert!(store.check(None).expect("check").is_clean());
}

#[test]
fn the_invitations_table_arrives_with_migration_eight() {
    assert!(MIGRATIONS.len() >= 8);
    assert!(MIGRATIONS[7].contains("CREATE TABLE invitations"));
}

#[test]
fn the_audit_log_reads_backwards_by_pages() {
    let db = TempDb::new("invitations-audit-pages");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let all = store.audit_records(acme, 0, 1_000).expect("audit");
    let last = all.last().expect("records").sequence;
    let page = store.audit_records_before(acme, i64::MAX, 2).expect("page");
    assert_eq!(
        page.iter().map(|r| r.sequence).collect::<Vec<_>>(),
        [last, last - 1]
    );
    let next = store
        .audit_records_before(acme, last - 1, 1_000)
        .expect("page");
    assert_eq!(next.len() as i64, last - 2);
    assert!(
        store
            .audit_records_before(acme, 1, 10)
            .expect("page")
            .is_empty()
    );
}

/// A database of schema version 7 (before invitations) gains the table on open.
#[test]
fn sqlite_a_version_7_database_gains_invitations_on_open() {
    let db = TempDb::new("upgrade-invitations");
    let acme = seed(&mut db.open(), "acme");
    let raw = rusqlite::Connection::open(&db.path).expect("raw");
    super::tests::downgrade(&raw, 7);
    drop(raw);
    let mut store = db.open();
    assert_eq!(
        store.schema_version().expect("version"),
        MIGRATIONS.len() as i64
    );
    store
        .create_invitation(
            acme,
            &secret(8),
            Role::Viewer,
            None,
            Timestamp(9),
            Timestamp(1),
        )
        .expect("invitation");
    assert_eq!(store.invitations(acme).expect("list").len(), 1);
}

#[test]
fn a_cancelled_invitation_expires_now_and_only_in_its_tenant() {
    let db = TempDb::new("invitations-cancel");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let globex = seed(&mut store, "globex");
    let ann = user(&mut store, "ann@example.com");
    let id = store
        .create_invitation(
            acme,
            &secret(1),
            Role::Viewer,
            None,
            Timestamp(1_000),
            Timestamp(10),
        )
        .expect("invitation");
    assert!(matches!(
        store.cancel_invitation(globex, id, Timestamp(20)),
        Err(StoreError::NotFound {
            what: "invitation",
            ..
        })
    ));
    store
        .cancel_invitation(acme, id, Timestamp(20))
        .expect("cancelled");
    assert_eq!(
        refused_field(store.cancel_invitation(acme, id, Timestamp(21))),
        "invitation"
    );
    assert_eq!(
        refused_field(store.accept_invitation(id, ann, Timestamp(21))),
        "invitation"
    );
    assert_eq!(
        actions(&mut store, acme).last().map(String::as_str),
        Some("invitation.cancelled")
    );
    assert!(store.check(None).expect("check").is_clean());
}
