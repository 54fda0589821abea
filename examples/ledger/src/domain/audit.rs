//! The audit log's rules, pure: who did it (`Actor`), what kind of write (`Action`), the
//! canonical JSON of what changed (`Json`), and the hash chain (`seal`, `ChainVerifier`).
//!
//! A record's hash is SHA-256 over a domain tag, the previous record's hash and the record's
//! fields, each length-prefixed so that no two different records hash the same bytes (see
//! `seal`). The first record of a tenant chains to `GENESIS` (32 zero bytes). Verification
//! only hashes the stored text; it never re-serialises, so a record written by an older
//! binary stays verifiable. No clock, no storage here: the store passes the time in and keeps
//! the rows (`store/sqlite/audit.rs`). Tests at the bottom.

use super::error::EntryError;
use super::{Entry, EntryId, EntryLink, TenantId, Timestamp};
use crate::limits::{AUDIT_ACTOR_BYTES_MAX, AUDIT_ORIGIN_BYTES_MAX};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// The `previous` hash of a tenant's first record.
pub const GENESIS: RecordHash = RecordHash([0; 32]);

/// Mixed into every hash so a record hash can never be confused with another SHA-256 use.
const HASH_DOMAIN: &[u8] = b"kiln-ledger-audit-v1\0";

/// A SHA-256 digest; stored as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordHash(pub [u8; 32]);

impl RecordHash {
    /// Parses 64 hex digits (either case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<RecordHash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let digit = |b: u8| char::from(b).to_digit(16);
            *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
        }
        Some(RecordHash(out))
    }
}

impl RecordHash {
    /// The 64 lowercase hex digits (what `Display` writes), built without the formatter: a
    /// write appends one record per entry, so this is on the write path.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(64);
        for byte in self.0 {
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        text
    }
}

impl fmt::Display for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordHash({self})")
    }
}

/// Who made a write: a name the caller gives (`cli`, a user id, `token:42`) and, optionally,
/// where it came from (an IP address, a token id). Invariant: the name is 1 to
/// `AUDIT_ACTOR_BYTES_MAX` bytes, the origin at most `AUDIT_ORIGIN_BYTES_MAX`, neither has
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    name: String,
    origin: Option<String>,
}

impl Actor {
    /// Checks `name` and `origin` against the rules of the type.
    pub fn new(name: &str, origin: Option<&str>) -> Result<Actor, EntryError> {
        let clean = |text: &str| !text.chars().any(char::is_control);
        if name.is_empty() || name.len() > AUDIT_ACTOR_BYTES_MAX || !clean(name) {
            return Err(EntryError::invalid(
                "actor",
                "an actor is 1 to 256 bytes without control characters",
            ));
        }
        if origin.is_some_and(|o| o.len() > AUDIT_ORIGIN_BYTES_MAX || !clean(o)) {
            return Err(EntryError::invalid(
                "origin",
                "an origin is at most 256 bytes without control characters",
            ));
        }
        Ok(Actor {
            name: name.to_owned(),
            origin: origin.map(str::to_owned),
        })
    }

    /// The actor of writes nobody named: `system`, no origin.
    pub fn system() -> Actor {
        Actor {
            name: "system".into(),
            origin: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }
}

/// The kinds of write the store records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    TenantCreated,
    CommodityCreated,
    AccountCreated,
    AccountClosed,
    AccountRenamed,
    ConstraintSet,
    EntryCreated,
    EntryReversed,
    PendingPosted,
    PendingVoided,
    PendingExpired,
    PriceSet,
    TokenCreated,
    TokenRevoked,
    ReconciliationStarted,
    ReconciliationCleared,
    ReconciliationFinished,
    MemberAdded,
    MemberRoleSet,
    MemberRemoved,
    InvitationCreated,
    InvitationAccepted,
    InvitationCancelled,
}

impl Action {
    /// The stable name stored in (and hashed with) the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::TenantCreated => "tenant.created",
            Action::CommodityCreated => "commodity.created",
            Action::AccountCreated => "account.created",
            Action::AccountClosed => "account.closed",
            Action::AccountRenamed => "account.renamed",
            Action::ConstraintSet => "constraint.set",
            Action::EntryCreated => "entry.created",
            Action::EntryReversed => "entry.reversed",
            Action::PendingPosted => "pending.posted",
            Action::PendingVoided => "pending.voided",
            Action::PendingExpired => "pending.expired",
            Action::PriceSet => "price.set",
            Action::TokenCreated => "token.created",
            Action::TokenRevoked => "token.revoked",
            Action::ReconciliationStarted => "reconciliation.started",
            Action::ReconciliationCleared => "reconciliation.cleared",
            Action::ReconciliationFinished => "reconciliation.finished",
            Action::MemberAdded => "member.added",
            Action::MemberRoleSet => "member.role_set",
            Action::MemberRemoved => "member.removed",
            Action::InvitationCreated => "invitation.created",
            Action::InvitationAccepted => "invitation.accepted",
            Action::InvitationCancelled => "invitation.cancelled",
        }
    }
}

/// A JSON value with one written form: object keys sorted (a `BTreeMap`), no whitespace,
/// integers only (amounts are minor units, never floats), strings escaped as RFC 8785 does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// An object from `(key, value)` pairs; a repeated key keeps the last value.
    pub fn object<'a>(pairs: impl IntoIterator<Item = (&'a str, Json)>) -> Json {
        Json::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    pub fn text(text: impl fmt::Display) -> Json {
        Json::Text(text.to_string())
    }

    /// `Null` for `None`.
    pub fn option<T>(value: Option<T>, to_json: impl FnOnce(T) -> Json) -> Json {
        value.map_or(Json::Null, to_json)
    }

    /// The canonical text.
    pub fn to_canonical(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Int(value) => out.push_str(&value.to_string()),
            Json::Text(text) => write_string(text, out),
            Json::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (index, (key, value)) in fields.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What an entry write changed: the entry as stored, with its id.
pub fn entry_json(id: EntryId, entry: &Entry) -> Json {
    let postings = entry.postings.iter().map(|posting| {
        Json::object([
            ("account", Json::text(&posting.account)),
            ("commodity", Json::text(&posting.commodity)),
            ("amount", Json::Int(posting.amount.0)),
        ])
    });
    let link = entry.link.map(|link| match link {
        EntryLink::Reverses(original) => ("reverses", Json::Int(original.0)),
        EntryLink::Posts(pending) => ("posts", Json::Int(pending.0)),
    });
    Json::object([
        ("id", Json::Int(id.0)),
        ("date", Json::text(entry.date)),
        ("description", Json::text(&entry.description)),
        ("payee", Json::option(entry.payee.as_ref(), Json::text)),
        (
            "tags",
            Json::Array(entry.tags.iter().map(Json::text).collect()),
        ),
        (
            "metadata",
            Json::Object(
                (entry.metadata.iter())
                    .map(|(k, v)| (k.clone(), Json::text(v)))
                    .collect(),
            ),
        ),
        ("postings", Json::Array(postings.collect())),
        (
            "pending",
            Json::option(entry.pending, |terms| {
                Json::object([(
                    "expires_at",
                    Json::option(terms.expires_at, |at| Json::Int(at.0)),
                )])
            }),
        ),
        (
            "link",
            Json::option(link, |(kind, id)| Json::object([(kind, id)])),
        ),
    ])
}

/// A record's fields, everything the hash covers apart from the previous hash.
#[derive(Clone, Copy, Debug)]
pub struct RecordFields<'a> {
    pub tenant: TenantId,
    /// 1 for a tenant's first record, then one more per record.
    pub sequence: i64,
    pub at: Timestamp,
    pub actor: &'a str,
    pub origin: Option<&'a str>,
    pub action: &'a str,
    /// Canonical JSON (`Json::to_canonical`).
    pub details: &'a str,
}

/// The hash of a record: SHA-256 of `HASH_DOMAIN`, `previous`, tenant, sequence and time as
/// 8-byte big-endian integers, then actor, origin (a 0 byte for none, or 1 and the text),
/// action and details, each text preceded by its length as an 8-byte big-endian integer.
pub fn seal(previous: &RecordHash, fields: &RecordFields<'_>) -> RecordHash {
    let mut hasher = Sha256::new();
    let text = |hasher: &mut Sha256, text: &str| {
        hasher.update((text.len() as u64).to_be_bytes());
        hasher.update(text.as_bytes());
    };
    hasher.update(HASH_DOMAIN);
    hasher.update(previous.0);
    hasher.update(fields.tenant.0.to_be_bytes());
    hasher.update(fields.sequence.to_be_bytes());
    hasher.update(fields.at.0.to_be_bytes());
    text(&mut hasher, fields.actor);
    match fields.origin {
        None => hasher.update([0]),
        Some(origin) => {
            hasher.update([1]);
            text(&mut hasher, origin);
        }
    }
    text(&mut hasher, fields.action);
    text(&mut hasher, fields.details);
    RecordHash(hasher.finalize().into())
}

/// A record as stored, hashes as the stored text (which may not even be hex, if tampered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub tenant: TenantId,
    pub sequence: i64,
    pub at: Timestamp,
    pub actor: String,
    pub origin: Option<String>,
    pub action: String,
    pub details: String,
    pub previous_hash: String,
    pub hash: String,
}

impl AuditRecord {
    pub fn fields(&self) -> RecordFields<'_> {
        RecordFields {
            tenant: self.tenant,
            sequence: self.sequence,
            at: self.at,
            actor: &self.actor,
            origin: self.origin.as_deref(),
            action: &self.action,
            details: &self.details,
        }
    }
}

/// Which rule a record breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainFault {
    /// Its sequence number is not the one after the previous record's (a gap or a repeat).
    Sequence { expected: i64 },
    /// Its `previous_hash` is not the previous record's hash.
    PreviousHash,
    /// Its `hash` is not the hash of its fields: the record was changed after it was written.
    Hash,
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainFault::Sequence { expected } => {
                write!(f, "sequence number out of order (expected {expected})")
            }
            ChainFault::PreviousHash => {
                f.write_str("previous_hash is not the hash of the record before")
            }
            ChainFault::Hash => {
                f.write_str("hash does not match the record's contents (changed after writing)")
            }
        }
    }
}

/// The first record of a tenant's chain that breaks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub sequence: i64,
    pub fault: ChainFault,
}

/// Checks one tenant's records in sequence order, one at a time (so a store can stream them).
#[derive(Debug)]
pub struct ChainVerifier {
    next_sequence: i64,
    previous: RecordHash,
}

impl Default for ChainVerifier {
    fn default() -> ChainVerifier {
        ChainVerifier {
            next_sequence: 1,
            previous: GENESIS,
        }
    }
}

impl ChainVerifier {
    /// Checks the next record; after an `Err` the chain is broken and later calls mean little.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        let broken = |fault| ChainBreak {
            sequence: record.sequence,
            fault,
        };
        if record.sequence != self.next_sequence {
            return Err(broken(ChainFault::Sequence {
                expected: self.next_sequence,
            }));
        }
        if RecordHash::from_hex(&record.previous_hash) != Some(self.previous) {
            return Err(broken(ChainFault::PreviousHash));
        }
        let hash = seal(&self.previous, &record.fields());
        if RecordHash::from_hex(&record.hash) != Some(hash) {
            return Err(broken(ChainFault::Hash));
        }
        self.next_sequence += 1;
        self.previous = hash;
        Ok(())
    }
}

/// Checks a whole chain; the number of records on success.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<usize, ChainBreak> {
    let mut verifier = ChainVerifier::default();
    let mut count = 0;
    for record in records {
        verifier.push(record)?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountName, CommodityCode};
    use crate::domain::{Amount, Date, Posting};

    fn chain(details: &[&str]) -> Vec<AuditRecord> {
        let mut previous = GENESIS;
        let mut records = Vec::new();
        for (index, details) in details.iter().enumerate() {
            let mut record = AuditRecord {
                tenant: TenantId(7),
                sequence: index as i64 + 1,
                at: Timestamp(1_700_000_000 + index as i64),
                actor: "cli".into(),
                origin: (index % 2 == 1).then(|| "10.0.0.1".into()),
                action: Action::EntryCreated.as_str().into(),
                details: (*details).into(),
                previous_hash: previous.to_string(),
                hash: String::new(),
            };
            previous = seal(&previous, &record.fields());
            record.hash = previous.to_string();
            records.push(record);
        }
        records
    }

    #[test]
    fn hashes_are_hex_and_round_trip() {
        let hash = seal(&GENESIS, &chain(&["{}"])[0].fields());
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(RecordHash::from_hex(&text), Some(hash));
        assert_eq!(RecordHash::from_hex(&text.to_uppercase()), Some(hash));
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(63), &"é".repeat(32)] {
            assert_eq!(RecordHash::from_hex(bad), None, "{bad}");
        }
        assert_eq!(GENESIS.to_string(), "0".repeat(64));
    }

    #[test]
    fn the_sha256_of_known_bytes_is_the_published_one() {
        // FIPS 180-2 example "abc": pins the digest, not just its determinism.
        let digest: [u8; 32] = Sha256::digest(b"abc").into();
        assert_eq!(
            RecordHash(digest).to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let record = &chain(&["{\"a\":1}"])[0];
        let base = seal(&GENESIS, &record.fields());
        assert_eq!(base, seal(&GENESIS, &record.fields()), "deterministic");
        let mut other = GENESIS;
        other.0[31] = 1;
        assert_ne!(base, seal(&other, &record.fields()));
        let variants: Vec<RecordFields<'_>> = vec![
            RecordFields {
                tenant: TenantId(8),
                ..record.fields()
            },
            RecordFields {
                sequence: 2,
                ..record.fields()
            },
            RecordFields {
                at: Timestamp(1),
                ..record.fields()
            },
            RecordFields {
                actor: "cl",
                ..record.fields()
            },
            RecordFields {
                origin: Some(""),
                ..record.fields()
            },
            RecordFields {
                action: "entry.reversed",
                ..record.fields()
            },
            RecordFields {
                details: "{\"a\":2}",
                ..record.fields()
            },
        ];
        for fields in variants {
            assert_ne!(base, seal(&GENESIS, &fields), "{fields:?}");
        }
    }

    #[test]
    fn length_prefixes_keep_field_boundaries() {
        let record = &chain(&["x"])[0];
        let a = RecordFields {
            actor: "ab",
            action: "c",
            ..record.fields()
        };
        let b = RecordFields {
            actor: "a",
            action: "bc",
            ..record.fields()
        };
        assert_ne!(seal(&GENESIS, &a), seal(&GENESIS, &b));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let records = chain(&["{}", "[1]", "{\"b\":null}"]);
        assert_eq!(verify_chain(&records), Ok(3));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn the_first_broken_record_is_named() {
        let mut edited = chain(&["{}", "[1]", "[2]", "[3]"]);
        edited[1].details = "[9]".into();
        edited[2].details = "[8]".into();
        assert_eq!(
            verify_chain(&edited),
            Err(ChainBreak {
                sequence: 2,
                fault: ChainFault::Hash
            })
        );

        let mut relinked = chain(&["{}", "[1]", "[2]"]);
        relinked[2].previous_hash = GENESIS.to_string();
        assert_eq!(
            verify_chain(&relinked),
            Err(ChainBreak {
                sequence: 3,
                fault: ChainFault::PreviousHash
            })
        );

        let mut gap = chain(&["{}", "[1]", "[2]"]);
        gap.remove(1);
        assert_eq!(
            verify_chain(&gap),
            Err(ChainBreak {
                sequence: 3,
                fault: ChainFault::Sequence { expected: 2 }
            })
        );

        let mut not_hex = chain(&["{}"]);
        not_hex[0].hash = "zz".into();
        assert_eq!(
            verify_chain(&not_hex).map_err(|b| b.fault),
            Err(ChainFault::Hash)
        );
    }

    #[test]
    fn canonical_json_sorts_keys_and_escapes() {
        let value = Json::object([
            ("b", Json::Int(-12)),
            ("a", Json::Array(vec![Json::Null, Json::Bool(true)])),
            ("c", Json::text("q\"\\\n\u{1}é")),
        ]);
        assert_eq!(
            value.to_canonical(),
            r#"{"a":[null,true],"b":-12,"c":"q\"\\\n\u0001é"}"#
        );
    }

    #[test]
    fn entries_serialise_canonically() {
        let entry = Entry {
            date: Date::parse("2024-03-01").expect("date"),
            description: "Lunch".into(),
            payee: None,
            tags: ["b".to_owned(), "a".to_owned()].into(),
            metadata: [("k".to_owned(), "v".to_owned())].into(),
            postings: vec![
                Posting {
                    account: AccountName::new("Expenses:Food").expect("name"),
                    commodity: CommodityCode::new("USD").expect("code"),
                    amount: Amount(1250),
                },
                Posting {
                    account: AccountName::new("Assets:Cash").expect("name"),
                    commodity: CommodityCode::new("USD").expect("code"),
                    amount: Amount(-1250),
                },
            ],
            pending: None,
            link: Some(EntryLink::Reverses(EntryId(3))),
        };
        assert_eq!(
            entry_json(EntryId(4), &entry).to_canonical(),
            concat!(
                r#"{"date":"2024-03-01","description":"Lunch","id":4,"link":{"reverses":3},"#,
                r#""metadata":{"k":"v"},"payee":null,"pending":null,"postings":["#,
                r#"{"account":"Expenses:Food","amount":1250,"commodity":"USD"},"#,
                r#"{"account":"Assets:Cash","amount":-1250,"commodity":"USD"}],"tags":["a","b"]}"#
            )
        );
    }

    #[test]
    fn actors_are_checked() {
        assert!(Actor::new("cli", None).is_ok());
        assert!(Actor::new("user:7", Some("192.0.2.1")).is_ok());
        assert!(Actor::new("", None).is_err());
        assert!(Actor::new("a\nb", None).is_err());
        assert!(Actor::new(&"a".repeat(AUDIT_ACTOR_BYTES_MAX + 1), None).is_err());
        assert!(Actor::new("cli", Some(&"o".repeat(AUDIT_ORIGIN_BYTES_MAX + 1))).is_err());
        assert_eq!(Actor::system().name(), "system");
    }
}
