//! People: sign-up (a new organisation and its owner), log-in with throttling, and the user a
//! session names. Passwords are hashed and checked with argon2 on the blocking pool (never on
//! a server worker); the sign-up is written through the group-commit writer like every other
//! write. Log-in failures are counted per e-mail address and per client IP address
//! (`domain::throttle`, bounded), and every failure says the same thing, so nobody learns
//! whether an address has an account. Not here: HTTP, forms and sessions (`crate::web`).

use super::{Ledger, ServiceError};
use crate::domain::Actor;
use crate::domain::throttle::RetryAfter;
use crate::domain::user::{UserError, check_new_password};
use crate::domain::{DisplayName, Email, Role, TenantId, TenantSlug, UserId};
use crate::store::{Membership, StoreError, UserRecord, WriteOp, WriteOutcome, WriteRequest};
use std::net::IpAddr;

/// What the sign-up form sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct SignUpForm {
    #[serde(default)]
    pub organisation: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    /// Never serialised back into a page.
    #[serde(default, skip_serializing)]
    pub password: String,
}

/// Why a sign-up did not happen.
#[derive(Debug)]
pub enum SignUpError {
    /// A field is wrong (or taken): its name and what to tell the person.
    Field {
        field: &'static str,
        message: String,
    },
    Service(ServiceError),
}

/// Why a log-in did not happen. `Refused` is the same for an unknown address and a wrong
/// password.
#[derive(Debug)]
pub enum LoginError {
    Refused,
    /// Too many failures for this address or from this client: try again after this long.
    Throttled(RetryAfter),
    Service(ServiceError),
}

/// The person a session names, in the organisation they are working in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionUser {
    pub user: UserRecord,
    pub tenant: Membership,
    /// Every organisation they belong to, by slug.
    pub memberships: Vec<Membership>,
}

impl SessionUser {
    pub fn role(&self) -> Role {
        self.tenant.role
    }
}

fn field(error: UserError) -> SignUpError {
    SignUpError::Field {
        field: error.field(),
        message: error.to_string(),
    }
}

impl Ledger {
    /// Creates an organisation and its owner. Checks every field first (nothing is written
    /// for a bad one), hashes the password on the blocking pool, then writes the tenant, the
    /// user and the membership in one transaction through the writer.
    pub async fn sign_up(&self, form: &SignUpForm) -> Result<(TenantId, UserId), SignUpError> {
        let slug =
            TenantSlug::new(form.organisation.trim()).map_err(|error| SignUpError::Field {
                field: "organisation",
                message: error.to_string(),
            })?;
        let name = DisplayName::parse(&form.name).map_err(field)?;
        let email = Email::parse(&form.email).map_err(field)?;
        check_new_password(&form.password).map_err(field)?;
        let password = form.password.clone();
        let hash = kiln::runtime::spawn_blocking(move || super::password::hash_password(&password))
            .await
            .map_err(|_| {
                SignUpError::Service(ServiceError::Failed("the password could not be hashed"))
            })?
            .map_err(|error| SignUpError::Service(error.into()))?;
        let request = WriteRequest {
            // The sign-up creates its tenant: the request names none.
            tenant: None,
            actor: Actor::new(&format!("signup:{}", email.as_str()), None)
                .unwrap_or_else(|_| Actor::system()),
            op: WriteOp::SignUp {
                slug,
                email,
                name,
                password_hash: hash,
                now: self.now(),
            },
        };
        match self.writer.write(request).await {
            Ok(WriteOutcome::SignedUp { tenant, user }) => Ok((tenant, user)),
            Ok(other) => Err(SignUpError::Service(ServiceError::Store(
                StoreError::Corrupt(format!("the writer answered a sign-up with {other:?}")),
            ))),
            Err(super::WriteError::Store(StoreError::AlreadyExists { what, .. })) => {
                let (field, message) = if what == "tenant" {
                    (
                        "organisation",
                        "That organisation name is taken; choose another.",
                    )
                } else {
                    (
                        "email",
                        "An account with that address exists already; log in instead.",
                    )
                };
                Err(SignUpError::Field {
                    field,
                    message: message.to_owned(),
                })
            }
            Err(error) => Err(SignUpError::Service(error.into())),
        }
    }

    /// Checks an e-mail address and password. Failures are counted per address and per
    /// client; past the limit a log-in is refused without checking the password until the
    /// window passes. An unknown address costs the same hashing as a wrong password.
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<UserRecord, LoginError> {
        let now = self.now();
        let address_key = format!("email:{}", email.trim().to_ascii_lowercase());
        let client_key = client.map(|ip| format!("ip:{ip}"));
        {
            let throttles = self.throttle();
            throttles
                .check(&address_key, now)
                .map_err(LoginError::Throttled)?;
            if let Some(key) = &client_key {
                throttles.check(key, now).map_err(LoginError::Throttled)?;
            }
        }
        let found = match Email::parse(email) {
            Ok(parsed) => self
                .readers
                .with(|store| store.user_by_email(&parsed))
                .map_err(|error| LoginError::Service(error.into()))?,
            Err(_) => None,
        };
        let phc = found.as_ref().map_or_else(
            || super::password::DUMMY_PHC.to_owned(),
            |u| u.password_hash.clone(),
        );
        let password = password.to_owned();
        let matches = kiln::runtime::spawn_blocking(move || {
            super::password::verify_password(&password, &phc)
        })
        .await
        .map_err(|_| {
            LoginError::Service(ServiceError::Failed("the password could not be checked"))
        })?;
        let mut throttles = self.throttle();
        match found {
            Some(user) if matches => {
                throttles.succeed(&address_key);
                Ok(user)
            }
            _ => {
                throttles.fail(&address_key, now);
                if let Some(key) = &client_key {
                    throttles.fail(key, now);
                }
                Err(LoginError::Refused)
            }
        }
    }

    /// The session's user in the organisation `tenant` names (their first one when it names
    /// none they belong to). `None` when the user is gone or belongs to no organisation.
    pub fn session_user(
        &self,
        user: UserId,
        tenant: Option<&str>,
    ) -> Result<Option<SessionUser>, ServiceError> {
        self.readers
            .with(|store| {
                let Some(record) = store.user(user)? else {
                    return Ok(None);
                };
                let memberships = store.memberships(user)?;
                let current = tenant
                    .and_then(|slug| memberships.iter().find(|m| m.slug.as_str() == slug))
                    .or_else(|| memberships.first())
                    .cloned();
                Ok(current.map(|tenant| SessionUser {
                    user: record,
                    tenant,
                    memberships,
                }))
            })
            .map_err(ServiceError::from)
    }

    /// Ends every web session of `user` (log-out), through the writer.
    pub async fn end_sessions(&self, user: UserId) -> Result<(), ServiceError> {
        let actor =
            Actor::new(&format!("user:{}", user.0), None).unwrap_or_else(|_| Actor::system());
        let request = crate::store::WriteRequest {
            tenant: None,
            actor,
            op: crate::store::WriteOp::EndSessions { user },
        };
        self.writer().write(request).await?;
        Ok(())
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, crate::domain::throttle::Throttle> {
        self.throttle.lock().unwrap_or_else(|e| e.into_inner())
    }
}
