//! The ledger's use cases as the server runs them: who is calling (an API token, checked
//! against its stored hash), what they may do (read or write scope), and where it runs
//! (reads on a reader connection of their own, writes through the group-commit writer).
//!
//! Every call is scoped to the caller's tenant here, once: a handler gets a `Caller` from
//! `authenticate` and can only pass it back, so no handler chooses a tenant (the store scopes
//! each query by it as well). People (sign-up, log-in, sessions) are `accounts.rs`;
//! `password` hashes and verifies their passwords (Argon2id). Not here: HTTP and JSON
//! (`crate::api`), the rules of the books (`crate::domain`), SQL (`crate::store`).

pub mod accounts;
pub mod password;
mod readers;
pub mod writer;

pub use readers::Readers;
pub use writer::{WriteError, Writer, WriterConfig};

use crate::domain::throttle::{Throttle, ThrottleConfig};
use crate::domain::token::{PresentedToken, Scope, TOKEN_SECRET_BYTES, TokenHash, TokenId};
use crate::domain::{Actor, TenantId, Timestamp};
use crate::store::{SqliteStore, Store, StoreError, WriteOp, WriteOutcome, WriteRequest};
use std::path::Path;
use std::sync::Arc;

/// An authenticated caller: the tenant its token belongs to, and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub token: TokenId,
    pub scope: Scope,
    /// The client's IP address, when the request came over a socket.
    pub origin: Option<std::net::IpAddr>,
}

impl Caller {
    /// Who the audit log names for this caller's writes: `token:{id}`, from its IP address.
    pub fn actor(&self) -> Actor {
        let origin = self.origin.map(|ip| ip.to_string());
        Actor::new(&format!("token:{}", self.token), origin.as_deref())
            .unwrap_or_else(|_| Actor::system())
    }
}

/// Why a use case did not run or did not succeed.
#[derive(Debug)]
pub enum ServiceError {
    /// No token, an unknown or malformed one, a wrong secret or a revoked token (401). Which
    /// of these is not said.
    Unauthorized,
    /// The token's scope does not allow this (403).
    Forbidden { needed: Scope },
    /// The store refused or failed.
    Store(StoreError),
    /// The writer is full or shutting down (503).
    Unavailable(&'static str),
    /// The writer failed on this request (500).
    Failed(&'static str),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> ServiceError {
        ServiceError::Store(error)
    }
}

impl From<WriteError> for ServiceError {
    fn from(error: WriteError) -> ServiceError {
        match error {
            WriteError::Store(error) => ServiceError::Store(error),
            WriteError::Unavailable(why) => ServiceError::Unavailable(why),
            WriteError::Failed(why) => ServiceError::Failed(why),
        }
    }
}

/// The running ledger: its writer and its readers. Cheap to clone (handles).
#[derive(Clone, Debug)]
pub struct Ledger {
    writer: Writer,
    readers: Arc<Readers>,
    clock: fn() -> Timestamp,
    /// Log-in failures per e-mail address and per client (`accounts.rs`).
    throttle: Arc<std::sync::Mutex<Throttle>>,
}

impl Ledger {
    /// Opens the database at `path` (creating and migrating it), starts the writer on that
    /// connection, and prepares reader connections.
    pub fn open(path: &Path, config: &WriterConfig) -> Result<Ledger, StoreError> {
        let store = SqliteStore::open(path)?;
        let writer = Writer::start(store, config).map_err(|error| {
            StoreError::Backend(format!("cannot start the writer thread: {error}").into())
        })?;
        Ok(Ledger {
            writer,
            readers: Arc::new(Readers::new(path)),
            clock: crate::store::system_clock,
            throttle: Arc::new(std::sync::Mutex::new(Throttle::new(
                ThrottleConfig::default(),
            ))),
        })
    }

    /// The time the service uses for pending entries (the system clock).
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The writer (for its statistics, or to shut it down).
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Checks a presented token (`ldg_{id}_{secret}`): its row exists, the secret's hash
    /// matches, it is not revoked. `origin` is the client's address, for the audit log.
    pub fn authenticate(
        &self,
        token: &str,
        origin: Option<std::net::IpAddr>,
    ) -> Result<Caller, ServiceError> {
        let presented = PresentedToken::parse(token).ok_or(ServiceError::Unauthorized)?;
        let record = self.readers.with(|store| store.token(presented.id))?;
        match record {
            Some(record)
                if record.revoked_at.is_none() && record.hash.matches(&presented.hash()) =>
            {
                Ok(Caller {
                    tenant: record.tenant,
                    token: record.id,
                    scope: record.scope,
                    origin,
                })
            }
            _ => Err(ServiceError::Unauthorized),
        }
    }

    /// The invitation whose link's secret has this hash, whatever its tenant (the link is how
    /// its tenant is found), on a reader connection.
    pub fn invitation(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<crate::store::InvitationRecord>, ServiceError> {
        Ok(self.readers.with(|store| store.invitation_by_hash(hash))?)
    }

    /// Runs a read for the caller's tenant on a reader connection (never waits for the writer).
    pub fn read<T>(
        &self,
        caller: &Caller,
        read: impl FnOnce(&mut dyn Store, TenantId) -> Result<T, StoreError>,
    ) -> Result<T, ServiceError> {
        self.read_tenant(caller.tenant, read)
    }

    /// Runs a read for a tenant the caller was checked against (a web session's current
    /// organisation, from `session_user`) on a reader connection.
    pub fn read_tenant<T>(
        &self,
        tenant: TenantId,
        read: impl FnOnce(&mut dyn Store, TenantId) -> Result<T, StoreError>,
    ) -> Result<T, ServiceError> {
        Ok(self.readers.with(|store| read(store, tenant))?)
    }

    /// Runs a write for the caller's tenant through the writer; answers once it is durable.
    pub async fn write(&self, caller: &Caller, op: WriteOp) -> Result<WriteOutcome, ServiceError> {
        if !caller.scope.allows(Scope::Write) {
            return Err(ServiceError::Forbidden {
                needed: Scope::Write,
            });
        }
        let request = WriteRequest {
            tenant: Some(caller.tenant),
            actor: caller.actor(),
            op,
        };
        Ok(self.writer.write(request).await?)
    }
}

impl Ledger {
    /// Runs a write for a tenant whose membership the caller already checked (a web session:
    /// `accounts::SessionUser`), as `actor`, through the writer.
    pub async fn write_as(
        &self,
        tenant: TenantId,
        actor: Actor,
        op: WriteOp,
    ) -> Result<WriteOutcome, ServiceError> {
        let request = WriteRequest {
            tenant: Some(tenant),
            actor,
            op,
        };
        Ok(self.writer.write(request).await?)
    }

    /// Expires, in every tenant, the pending entries whose time has come (their reservations
    /// are released), through the writer; returns how many expired. Blocking: for the expiry
    /// sweep's own thread (`ledger serve` runs it every `PENDING_EXPIRY_SWEEP_MS`).
    pub fn expire_due(&self) -> Result<usize, ServiceError> {
        let tenants = self.readers.with(|store| store.tenants())?;
        let actor = Actor::new("system:expiry", None).unwrap_or_else(|_| Actor::system());
        let now = self.now();
        let mut expired = 0;
        for (tenant, _) in tenants {
            let request = WriteRequest {
                tenant: Some(tenant),
                actor: actor.clone(),
                op: WriteOp::ExpirePending { now },
            };
            match self.writer.write_blocking(request)? {
                WriteOutcome::Expired(ids) => expired += ids.len(),
                other => {
                    return Err(ServiceError::Store(StoreError::Corrupt(format!(
                        "the writer answered an expiry with {other:?}"
                    ))));
                }
            }
        }
        Ok(expired)
    }

    /// Starts the thread that calls `expire_due` every `interval` until the writer shuts
    /// down.
    pub fn start_expiry_sweep(&self, interval: std::time::Duration) -> std::io::Result<()> {
        let ledger = self.clone();
        std::thread::Builder::new()
            .name("ledger-expiry".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    match ledger.expire_due() {
                        Ok(0) => {}
                        Ok(count) => tracing::info!(count, "expired pending entries"),
                        Err(ServiceError::Unavailable(_)) => return, // shutting down
                        Err(error) => tracing::error!(?error, "the expiry sweep failed"),
                    }
                }
            })
            .map(|_| ())
    }
}

/// Makes a new token for `tenant` in `store` with a fresh secret from the operating system;
/// returns its text, to be shown once (only its hash is stored).
pub fn create_token(
    store: &mut dyn Store,
    tenant: TenantId,
    scope: Scope,
    now: Timestamp,
) -> Result<(TokenId, String), StoreError> {
    let mut secret = [0u8; TOKEN_SECRET_BYTES];
    getrandom::fill(&mut secret)
        .map_err(|error| StoreError::Backend(format!("no secure randomness: {error}").into()))?;
    let id = store.create_token(tenant, scope, &TokenHash::of(&secret), now)?;
    Ok((id, PresentedToken { id, secret }.to_text()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PendingStatus, PendingTerms};
    use crate::store::EntryRequest;
    use crate::store::tests::{TempDb, code, name, seed, transfer};

    #[test]
    fn the_expiry_sweep_expires_due_holds_in_every_tenant_through_the_writer() {
        let db = TempDb::new("service-expiry");
        let mut store = db.open();
        let mut holds = Vec::new();
        for slug in ["acme", "other"] {
            let tenant = seed(&mut store, slug);
            for expires_at in [Some(Timestamp(10)), Some(Timestamp(i64::MAX)), None] {
                let mut hold =
                    transfer("2024-02-01", "Expenses:Food", "Assets:Bank", "5.00", "USD");
                hold.pending = Some(PendingTerms { expires_at });
                let request = EntryRequest {
                    key: None,
                    entry: hold,
                };
                holds.push((tenant, store.create_entry(tenant, &request).expect("hold")));
            }
        }
        drop(store);
        let ledger = Ledger::open(&db.path, &WriterConfig::default()).expect("ledger");
        assert_eq!(
            ledger.expire_due().expect("sweep"),
            2,
            "one due hold per tenant"
        );
        assert_eq!(ledger.expire_due().expect("sweep"), 0, "nothing due twice");
        ledger.writer().shutdown();
        let mut store = db.open();
        let statuses: Vec<_> = holds
            .iter()
            .map(|(tenant, id)| {
                store
                    .entry(*tenant, *id)
                    .expect("read")
                    .expect("kept")
                    .status
            })
            .collect();
        let expected = [
            Some(PendingStatus::Expired),
            Some(PendingStatus::Pending),
            Some(PendingStatus::Pending),
        ];
        assert_eq!(statuses[..3], expected);
        assert_eq!(statuses[3..], expected);
        let state = store
            .balance_state(holds[0].0, &name("Assets:Bank"), &code("USD"))
            .expect("state");
        assert_eq!(
            state.pending_credits,
            crate::domain::Amount(-1_000),
            "two holds left"
        );
        let actors: Vec<String> = store
            .audit_records(holds[0].0, 0, 1_000)
            .expect("audit")
            .into_iter()
            .filter(|r| r.action == "pending.expired")
            .map(|r| r.actor)
            .collect();
        assert_eq!(actors, ["system:expiry"]);
        // After shutdown the sweep stops: the writer is unavailable.
        assert!(matches!(
            ledger.expire_due(),
            Err(ServiceError::Unavailable(_))
        ));
    }
}
