//! The web app's users in the store: users round-trip by email and id, an email is taken
//! once, sign-up writes tenant, user and owner membership all or nothing, a user belongs to
//! several tenants with a role in each, a tenant lists only its own members, adding a member
//! is audited in the tenant's chain (and `check` stays clean), ending a user's sessions raises
//! only their generation, and a user's password hash
//! never shows in `Debug`. SQLite only at the bottom: the upgrade from schema version 4 and
//! what the tables refuse on their own.

use super::tests::{TempDb, seed};
use super::*;

fn email(text: &str) -> Email {
    Email::parse(text).expect(text)
}

fn display(text: &str) -> DisplayName {
    DisplayName::parse(text).expect(text)
}

fn slug(text: &str) -> TenantSlug {
    TenantSlug::new(text).expect(text)
}

/// Stands in for an Argon2id PHC string: the store keeps the text as given.
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo";

fn user(store: &mut impl Store, address: &str) -> UserId {
    store
        .create_user(&email(address), &display("Some One"), HASH, Timestamp(100))
        .expect("user")
}

fn tenant_count(store: &mut impl Store) -> usize {
    store.tenants().expect("tenants").len()
}

#[test]
fn users_round_trip_by_email_and_id() {
    let db = TempDb::new("users-round-trip");
    let mut store = db.open();
    let id = store
        .create_user(
            &email("ann@example.com"),
            &display("Ann Lee"),
            HASH,
            Timestamp(1_700_000_000),
        )
        .expect("user");
    let bob = user(&mut store, "bob@example.com");
    assert_ne!(id, bob);

    let found = store
        .user_by_email(&email(" ANN@Example.com"))
        .expect("lookup")
        .expect("the same address, however it was typed");
    assert_eq!(found.id, id);
    assert_eq!(found.email.as_str(), "ann@example.com");
    assert_eq!(found.name.as_str(), "Ann Lee");
    assert_eq!(found.password_hash, HASH);
    assert_eq!(found.created_at, Timestamp(1_700_000_000));
    assert_eq!(store.user(id).expect("lookup"), Some(found));

    assert_eq!(
        store
            .user_by_email(&email("nobody@example.com"))
            .expect("lookup"),
        None
    );
    assert_eq!(store.user(UserId(9_999)).expect("lookup"), None);
}

#[test]
fn a_taken_email_is_refused() {
    let db = TempDb::new("users-taken");
    let mut store = db.open();
    let first = user(&mut store, "ann@example.com");
    let again = store.create_user(
        &email("Ann@Example.COM"),
        &display("Another Ann"),
        HASH,
        Timestamp(5),
    );
    match again {
        Err(StoreError::AlreadyExists { what, name }) => {
            assert_eq!((what, name.as_str()), ("user", "ann@example.com"));
        }
        other => panic!("expected already_exists, got {other:?}"),
    }
    let kept = store
        .user_by_email(&email("ann@example.com"))
        .expect("lookup")
        .expect("kept");
    assert_eq!((kept.id, kept.name.as_str()), (first, "Some One"));
}

#[test]
fn sign_up_writes_the_tenant_the_user_and_the_owner_membership() {
    let db = TempDb::new("users-sign-up");
    let mut store = db.open();
    let (tenant, owner) = store
        .sign_up(
            &slug("acme"),
            &email("ann@acme.test"),
            &display("Ann"),
            HASH,
            Timestamp(7),
        )
        .expect("signed up");
    assert_eq!(store.tenant(&slug("acme")).expect("lookup"), Some(tenant));
    assert_eq!(
        store.user(owner).expect("lookup").expect("user").email,
        email("ann@acme.test")
    );
    assert_eq!(
        store.membership(tenant, owner).expect("membership"),
        Some(Role::Owner)
    );
    let actions: Vec<String> = store
        .audit_records(tenant, 0, 100)
        .expect("audit")
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(actions, ["tenant.created", "member.added"]);
    assert!(store.check(None).expect("check").is_clean());
}

#[test]
fn sign_up_with_a_taken_slug_leaves_no_user() {
    let db = TempDb::new("users-sign-up-slug");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let records = store.audit_records(acme, 0, 1_000).expect("audit").len();
    let refused = store.sign_up(
        &slug("acme"),
        &email("mallory@example.com"),
        &display("Mallory"),
        HASH,
        Timestamp(1),
    );
    assert_eq!(refused.expect_err("taken").code(), "already_exists");
    assert_eq!(
        store
            .user_by_email(&email("mallory@example.com"))
            .expect("lookup"),
        None
    );
    assert_eq!(tenant_count(&mut store), 1);
    assert!(store.members(acme).expect("members").is_empty());
    assert_eq!(
        store.audit_records(acme, 0, 1_000).expect("audit").len(),
        records
    );
    assert!(store.check(None).expect("check").is_clean());
}

#[test]
fn sign_up_with_a_taken_email_leaves_no_tenant() {
    let db = TempDb::new("users-sign-up-email");
    let mut store = db.open();
    user(&mut store, "ann@example.com");
    let refused = store.sign_up(
        &slug("newco"),
        &email("ann@example.com"),
        &display("Ann"),
        HASH,
        Timestamp(1),
    );
    match refused {
        Err(StoreError::AlreadyExists { what, .. }) => assert_eq!(what, "user"),
        other => panic!("expected already_exists, got {other:?}"),
    }
    assert_eq!(store.tenant(&slug("newco")).expect("lookup"), None);
    assert_eq!(tenant_count(&mut store), 0);
    // The slug is free: a sign-up with another email takes it.
    let (tenant, _) = store
        .sign_up(
            &slug("newco"),
            &email("bob@example.com"),
            &display("Bob"),
            HASH,
            Timestamp(2),
        )
        .expect("signed up");
    assert_eq!(store.audit_records(tenant, 0, 100).expect("audit").len(), 2);
    assert!(store.check(None).expect("check").is_clean());
}

#[test]
fn a_user_belongs_to_several_tenants_with_a_role_in_each() {
    let db = TempDb::new("users-memberships");
    let mut store = db.open();
    let zeta = seed(&mut store, "zeta");
    let acme = seed(&mut store, "acme");
    let mid = seed(&mut store, "mid");
    let lonely = seed(&mut store, "lonely");
    let ann = user(&mut store, "ann@example.com");
    store.add_member(zeta, ann, Role::Viewer).expect("member");
    store.add_member(acme, ann, Role::Owner).expect("member");
    store
        .add_member(mid, ann, Role::Accountant)
        .expect("member");

    let memberships = store.memberships(ann).expect("memberships");
    let listed: Vec<(TenantId, &str, Role)> = memberships
        .iter()
        .map(|m| (m.tenant, m.slug.as_str(), m.role))
        .collect();
    assert_eq!(
        listed,
        [
            (acme, "acme", Role::Owner),
            (mid, "mid", Role::Accountant),
            (zeta, "zeta", Role::Viewer),
        ],
        "by slug"
    );
    assert_eq!(
        store.membership(mid, ann).expect("role"),
        Some(Role::Accountant)
    );
    assert_eq!(store.membership(lonely, ann).expect("role"), None);
    assert_eq!(store.membership(TenantId(777), ann).expect("role"), None);
    assert_eq!(store.membership(acme, UserId(777)).expect("role"), None);

    let bob = user(&mut store, "bob@example.com");
    assert!(store.memberships(bob).expect("memberships").is_empty());
    let unknown = store.memberships(UserId(777));
    assert_eq!(unknown.expect_err("unknown").code(), "not_found");

    let twice = store.add_member(acme, ann, Role::Viewer);
    assert_eq!(twice.expect_err("member already").code(), "already_exists");
    assert_eq!(
        store.membership(acme, ann).expect("role"),
        Some(Role::Owner),
        "unchanged"
    );
    let unknown_tenant = store.add_member(TenantId(777), ann, Role::Viewer);
    assert_eq!(
        unknown_tenant.expect_err("unknown").code(),
        "unknown_tenant"
    );
    let unknown_user = store.add_member(acme, UserId(777), Role::Viewer);
    assert_eq!(unknown_user.expect_err("unknown").code(), "not_found");
}

#[test]
fn tenants_never_list_each_others_members() {
    let db = TempDb::new("users-isolation");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let globex = seed(&mut store, "globex");
    let zed = user(&mut store, "zed@acme.test");
    let amy = user(&mut store, "amy@acme.test");
    let hank = user(&mut store, "hank@globex.test");
    let both = user(&mut store, "consultant@example.com");
    store.add_member(acme, zed, Role::Owner).expect("member");
    store.add_member(acme, amy, Role::Viewer).expect("member");
    store.add_member(globex, hank, Role::Owner).expect("member");
    store
        .add_member(acme, both, Role::Accountant)
        .expect("member");
    store
        .add_member(globex, both, Role::Viewer)
        .expect("member");

    let listed = |store: &mut SqliteStore, tenant| -> Vec<(String, Role)> {
        store
            .members(tenant)
            .expect("members")
            .into_iter()
            .map(|(user, role)| (user.email.to_string(), role))
            .collect()
    };
    assert_eq!(
        listed(&mut store, acme),
        [
            ("amy@acme.test".to_string(), Role::Viewer),
            ("consultant@example.com".to_string(), Role::Accountant),
            ("zed@acme.test".to_string(), Role::Owner),
        ],
        "by email, acme's only"
    );
    assert_eq!(
        listed(&mut store, globex),
        [
            ("consultant@example.com".to_string(), Role::Viewer),
            ("hank@globex.test".to_string(), Role::Owner),
        ]
    );
    assert_eq!(store.membership(globex, zed).expect("role"), None);
    assert_eq!(store.membership(acme, hank).expect("role"), None);
    let unknown = store.members(TenantId(777));
    assert_eq!(unknown.expect_err("unknown").code(), "unknown_tenant");
}

#[test]
fn adding_a_member_is_audited_in_the_tenants_chain() {
    let db = TempDb::new("users-audit");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let globex = seed(&mut store, "globex");
    let ann = user(&mut store, "ann@example.com");
    let before = |store: &mut SqliteStore, tenant| {
        store.audit_records(tenant, 0, 1_000).expect("audit").len()
    };
    let globex_records = before(&mut store, globex);
    let acme_records = before(&mut store, acme);

    store.set_actor(Actor::new("user:1", Some("192.0.2.7")).expect("actor"));
    store.add_member(acme, ann, Role::Viewer).expect("member");
    let records = store.audit_records(acme, 0, 1_000).expect("audit");
    assert_eq!(records.len(), acme_records + 1);
    let added = records.last().expect("a record");
    assert_eq!(added.action, "member.added");
    assert_eq!(
        added.details,
        format!(r#"{{"role":"viewer","user":{}}}"#, ann.0)
    );
    assert_eq!(added.actor, "user:1");
    assert_eq!(added.origin.as_deref(), Some("192.0.2.7"));
    assert_eq!(
        before(&mut store, globex),
        globex_records,
        "only acme's chain"
    );

    // A refused add leaves no record.
    store.add_member(acme, ann, Role::Owner).expect_err("twice");
    store
        .add_member(acme, UserId(777), Role::Owner)
        .expect_err("unknown user");
    assert_eq!(before(&mut store, acme), acme_records + 1);
    // Creating a user is not a tenant's event: no chain grows.
    user(&mut store, "bob@example.com");
    assert_eq!(before(&mut store, acme), acme_records + 1);
    assert_eq!(before(&mut store, globex), globex_records);
    assert!(store.check(None).expect("check").is_clean());
}

#[test]
fn the_password_hash_never_shows_in_debug() {
    let db = TempDb::new("users-debug");
    let mut store = db.open();
    let (acme, ann) = store
        .sign_up(
            &slug("acme"),
            &email("ann@example.com"),
            &display("Ann"),
            HASH,
            Timestamp(3),
        )
        .expect("signed up");
    let record = store.user(ann).expect("lookup").expect("user");
    for shown in [
        format!("{record:?}"),
        format!("{record:#?}"),
        format!("{:?}", store.members(acme).expect("members")),
        format!("{:?}", store.user_by_email(&email("ann@example.com"))),
    ] {
        assert!(!shown.contains(HASH), "{shown}");
        assert!(!shown.contains("argon2"), "{shown}");
        assert!(!shown.contains("password"), "{shown}");
        assert!(shown.contains("ann@example.com"), "{shown}");
    }
    assert_eq!(
        format!("{record:?}"),
        format!(
            r#"UserRecord {{ id: UserId({}), email: Email("ann@example.com"), name: DisplayName("Ann"), created_at: Timestamp(3), .. }}"#,
            ann.0
        )
    );
}

// ---- SQLite only ----

/// A database written before users existed (schema version 4) gains the tables on open and
/// keeps its tenants.
#[test]
fn sqlite_a_version_4_database_gains_users_on_open() {
    let db = TempDb::new("upgrade-users");
    let tenant = seed(&mut db.open(), "acme");
    let raw = rusqlite::Connection::open(&db.path).expect("raw");
    super::tests::downgrade(&raw, 4);
    drop(raw);
    let mut store = db.open();
    assert_eq!(
        store.schema_version().expect("version"),
        MIGRATIONS.len() as i64
    );
    let ann = user(&mut store, "ann@example.com");
    store.add_member(tenant, ann, Role::Owner).expect("member");
    assert_eq!(store.memberships(ann).expect("memberships").len(), 1);
    assert!(store.check(None).expect("check").is_clean());
}

/// The tables refuse what the store refuses, whoever writes to them: an unknown role, a
/// second row for one email or one membership, a membership of a missing user or tenant.
#[test]
fn sqlite_the_user_tables_refuse_bad_rows() {
    let db = TempDb::new("users-rows");
    let mut store = db.open();
    let acme = seed(&mut store, "acme");
    let ann = user(&mut store, "ann@example.com");
    store.add_member(acme, ann, Role::Viewer).expect("member");
    drop(store);
    let raw = rusqlite::Connection::open(&db.path).expect("raw");
    raw.execute_batch("PRAGMA foreign_keys = ON")
        .expect("pragma");
    let member = |tenant: i64, user: i64, role: &str| {
        raw.execute(
            "INSERT INTO memberships (tenant_id, user_id, role) VALUES (?1, ?2, ?3)",
            rusqlite::params![tenant, user, role],
        )
    };
    assert!(
        member(acme.0, ann.0, "owner").is_err(),
        "one membership per tenant"
    );
    assert!(member(acme.0, 777, "owner").is_err(), "no such user");
    assert!(member(777, ann.0, "owner").is_err(), "no such tenant");
    let other = raw
        .execute(
            "INSERT INTO users (email, name, password_hash, created_at) VALUES ('b@x.io', 'B', 'h', 0)",
            [],
        )
        .map(|_| raw.last_insert_rowid())
        .expect("user");
    assert!(member(acme.0, other, "admin").is_err(), "no such role");
    assert!(member(acme.0, other, "accountant").is_ok());
    let same_email = raw.execute(
        "INSERT INTO users (email, name, password_hash, created_at) VALUES ('ann@example.com', 'A', 'h', 0)",
        [],
    );
    assert!(same_email.is_err(), "an email is taken once");
}

#[test]
fn ending_sessions_raises_the_users_generation_only() {
    let db = TempDb::new("users-end-sessions");
    let mut store = db.open();
    let ann = user(&mut store, "ann@example.com");
    let bob = user(&mut store, "bob@example.com");
    let generation = |store: &mut SqliteStore, id| {
        store
            .user(id)
            .expect("read")
            .expect("user")
            .session_generation
    };
    assert_eq!(generation(&mut store, ann), 0);
    assert_eq!(store.end_sessions(ann).expect("ended"), 1);
    assert_eq!(store.end_sessions(ann).expect("ended"), 2);
    assert_eq!(generation(&mut store, ann), 2);
    assert_eq!(generation(&mut store, bob), 0, "only hers");
    assert!(matches!(
        store.end_sessions(UserId(9_999)),
        Err(StoreError::NotFound { what: "user", .. })
    ));
}
