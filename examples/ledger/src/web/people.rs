//! People, invitations and API tokens (issue 12): the owner's page of members (change a role,
//! remove someone, invite by a single-use link, cancel it), the link's own page (log in or sign
//! up first, then accept: the session switches to the new organisation), and the owner's page
//! of API tokens (create one, shown once; revoke). The audit log is `audit.rs`.
//!
//! Only owners (`Role::can_manage_users`) see or change people and tokens: anyone else gets a
//! 403, on every page and form. Every write goes
//! through the writer as `user:{id}`; ids in paths are checked against the current
//! organisation by the store (another organisation's member or token is a 404). Secrets
//! (invitation links, tokens) come from the operating system's randomness and only their
//! SHA-256 is stored. Not here: e-mailing an invitation (the owner passes the link on). Tests: `tests/cli/web_people.rs`.

use super::WebState;
use super::audit::when;
use super::auth::{
    Base, CurrentUser, Peer, SESSION_AFTER_LOGIN, SESSION_TENANT, actor, refusal_message, render,
    service_error, signed_in, write_as_user,
};
use crate::domain::token::{Scope, TOKEN_SECRET_BYTES, TokenHash, TokenId};
use crate::domain::{Email, Role, Timestamp, UserId};
use crate::limits::INVITATION_VALID_DAYS_MAX;
use crate::service::ServiceError;
use crate::service::accounts::SessionUser;
use crate::store::{InvitationId, InvitationRecord, StoreError, WriteOp, WriteOutcome};
use kiln::app::{Flash, Form, Path, Session, State};
use kiln::htmx::Htmx;
use kiln::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

/// 410 Gone: an invitation link that was used or has expired (kiln names no constant for it).
const GONE: StatusCode = match StatusCode::from_u16(410) {
    Some(status) => status,
    None => StatusCode::NOT_FOUND,
};

/// 403 unless the person is an owner of the current organisation.
fn may_manage(current: &SessionUser) -> Result<(), Response> {
    if current.role().can_manage_users() {
        return Ok(());
    }
    Err(Response::error(
        StatusCode::FORBIDDEN,
        &format!(
            "Only an owner of {} manages people and API tokens; your role is {}.",
            current.tenant.slug,
            current.role()
        ),
    ))
}

/// 32 bytes from the operating system.
fn fresh_secret() -> Result<[u8; TOKEN_SECRET_BYTES], Response> {
    let mut secret = [0u8; TOKEN_SECRET_BYTES];
    getrandom::fill(&mut secret)
        .map_err(|_| service_error(ServiceError::Failed("no secure randomness for a secret")))?;
    Ok(secret)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An invitation link's secret: exactly 64 lowercase hex digits, else `None`.
fn parse_secret(text: &str) -> Option<[u8; TOKEN_SECRET_BYTES]> {
    if text.len() != TOKEN_SECRET_BYTES * 2 {
        return None;
    }
    let digit = |byte: u8| match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    };
    let mut secret = [0u8; TOKEN_SECRET_BYTES];
    for (byte, pair) in secret.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(secret)
}

/// A write's refusal as a page: 404 for what is not in this organisation, 409 for a member
/// already, 422 for a refusal (the last owner), else a 500.
fn write_failed(error: ServiceError) -> Response {
    match &error {
        ServiceError::Store(StoreError::NotFound { what, .. }) => Response::error(
            StatusCode::NOT_FOUND,
            &format!("There is no such {what} in this organisation."),
        ),
        ServiceError::Store(StoreError::AlreadyExists { .. }) => Response::error(
            StatusCode::CONFLICT,
            "You are a member of that organisation already.",
        ),
        _ => match refusal_message(&error) {
            Some(message) => Response::error(StatusCode::UNPROCESSABLE_ENTITY, &message),
            None => service_error(error),
        },
    }
}

// ---- People -------------------------------------------------------------------------------

#[derive(Serialize)]
struct PeoplePage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    members: Vec<MemberView>,
    invitations: Vec<InvitationView>,
    roles: Vec<&'static str>,
    days_max: u32,
    /// The secret of the invitation just made (its link is `/invitations/{secret}`): shown
    /// this once.
    new_secret: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct MemberView {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    me: bool,
}

#[derive(Serialize)]
struct InvitationView {
    id: i64,
    role: &'static str,
    email: Option<String>,
    created: String,
    expires: String,
}

const ROLES: [Role; 3] = [Role::Owner, Role::Accountant, Role::Viewer];

pub async fn people(CurrentUser(current): CurrentUser, State(state): State<WebState>) -> Response {
    if let Err(response) = may_manage(&current) {
        return response;
    }
    people_page(&state, &current, None, None, StatusCode::OK)
}

fn people_page(
    state: &WebState,
    current: &SessionUser,
    new_secret: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let read = state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| {
            Ok((store.members(tenant)?, store.invitations(tenant)?))
        });
    let (members, invitations) = match read {
        Ok(read) => read,
        Err(error) => return service_error(error),
    };
    let now = state.ledger.now();
    let page = PeoplePage {
        base: Base::of(current),
        members: members
            .into_iter()
            .map(|(user, role)| MemberView {
                id: user.id.0,
                me: user.id == current.user.id,
                name: user.name.to_string(),
                email: user.email.to_string(),
                role: role.as_str(),
            })
            .collect(),
        invitations: pending(invitations, now),
        roles: ROLES.iter().map(|role| role.as_str()).collect(),
        days_max: INVITATION_VALID_DAYS_MAX,
        new_secret,
        error,
    };
    render(state, "people.html", page, status)
}

/// The invitations that can still be accepted.
fn pending(invitations: Vec<InvitationRecord>, now: Timestamp) -> Vec<InvitationView> {
    invitations
        .into_iter()
        .filter(|i| i.accepted_at.is_none() && i.expires_at > now)
        .map(|i| InvitationView {
            id: i.id.0,
            role: i.role.as_str(),
            email: i.email.map(|email| email.to_string()),
            created: when(i.created_at),
            expires: when(i.expires_at),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub struct RoleFields {
    #[serde(default)]
    role: String,
}

fn parse_role(text: &str) -> Result<Role, Response> {
    Role::parse(text.trim()).map_err(|_| {
        Response::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Role: choose owner, accountant or viewer.",
        )
    })
}

pub async fn set_role(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Path(user): Path<i64>,
    Form(fields): Form<RoleFields>,
) -> Response {
    if let Err(response) = may_manage(&current) {
        return response;
    }
    let role = match parse_role(&fields.role) {
        Ok(role) => role,
        Err(response) => return response,
    };
    let op = WriteOp::SetRole {
        user: UserId(user),
        role,
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(_) => {
            flash.success(format!("The role is now {role}."));
            htmx.redirect("/people")
        }
        Err(error) => write_failed(error),
    }
}

pub async fn remove_member(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Path(user): Path<i64>,
) -> Response {
    if let Err(response) = may_manage(&current) {
        return response;
    }
    let op = WriteOp::RemoveMember { user: UserId(user) };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(_) => {
            flash.success(format!("Removed from {}.", current.tenant.slug));
            htmx.redirect("/people")
        }
        Err(error) => write_failed(error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct InviteFields {
    #[serde(default)]
    role: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    days: String,
}

/// Makes an invitation and shows its link once (only the secret's hash is stored).
pub async fn invite(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    State(state): State<WebState>,
    Form(fields): Form<InviteFields>,
) -> Response {
    if let Err(response) = may_manage(&current) {
        return response;
    }
    let refused = |message: String| {
        people_page(
            &state,
            &current,
            None,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let Ok(role) = Role::parse(fields.role.trim()) else {
        return refused("Role: choose owner, accountant or viewer.".into());
    };
    let email = match fields.email.trim() {
        "" => None,
        text => match Email::parse(text) {
            Ok(email) => Some(email),
            Err(error) => return refused(format!("E-mail: {error}")),
        },
    };
    let days = match fields.days.trim().parse::<u32>() {
        Ok(days) if (1..=INVITATION_VALID_DAYS_MAX).contains(&days) => days,
        _ => {
            return refused(format!(
                "Valid for: a whole number of days from 1 to {INVITATION_VALID_DAYS_MAX}."
            ));
        }
    };
    let secret = match fresh_secret() {
        Ok(secret) => secret,
        Err(response) => return response,
    };
    let now = state.ledger.now();
    let op = WriteOp::CreateInvitation {
        hash: TokenHash::of(&secret),
        role,
        email,
        expires_at: Timestamp(now.0.saturating_add(i64::from(days) * 86_400)),
        now,
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(_) => {
            let secret = Some(to_hex(&secret));
            people_page(&state, &current, secret, None, StatusCode::CREATED)
        }
        Err(error) => write_failed(error),
    }
}

/// Cancels a pending invitation: its link stops working now.
pub async fn cancel_invitation(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(response) = may_manage(&current) {
        return response;
    }
    let op = WriteOp::CancelInvitation {
        id: InvitationId(id),
        now: state.ledger.now(),
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(_) => {
            flash.success("Invitation cancelled: its link no longer works.");
            htmx.redirect("/people")
        }
        Err(error) => write_failed(error),
    }
}

// ---- Accepting an invitation ----------------------------------------------------------------

#[derive(Serialize)]
struct InvitePage<'a> {
    #[serde(flatten)]
    base: Option<Base<'a>>,
    slug: String,
    role: &'static str,
    expires: String,
    /// Signed out: the page says to log in or sign up first.
    signed_out: bool,
    action: String,
}

#[derive(Serialize)]
struct RefusedInvitation<'a> {
    #[serde(flatten)]
    base: Option<Base<'a>>,
    reason: &'static str,
}

/// Finds the link's invitation, or the page that says why it cannot be used (404 unknown,
/// 410 used or expired).
fn usable_invitation(
    state: &WebState,
    current: Option<&SessionUser>,
    secret: &str,
) -> Result<InvitationRecord, Response> {
    let refused = |reason: &'static str, status: StatusCode| {
        let page = RefusedInvitation {
            base: current.map(Base::of),
            reason,
        };
        render(state, "invite.html", page, status)
    };
    let Some(secret) = parse_secret(secret) else {
        return Err(refused(
            "There is no such invitation: check that the whole link was copied.",
            StatusCode::NOT_FOUND,
        ));
    };
    match state.ledger.invitation(&TokenHash::of(&secret)) {
        Err(error) => Err(service_error(error)),
        Ok(None) => Err(refused(
            "There is no such invitation: check that the whole link was copied.",
            StatusCode::NOT_FOUND,
        )),
        Ok(Some(invitation)) if invitation.accepted_at.is_some() => Err(refused(
            "This invitation has been used already: each link works once. Ask for a new one.",
            GONE,
        )),
        Ok(Some(invitation)) if invitation.expires_at <= state.ledger.now() => Err(refused(
            "This invitation has expired. Ask for a new one.",
            GONE,
        )),
        Ok(Some(invitation)) => Ok(invitation),
    }
}

/// The link's page: signed out, a page that says to log in or sign up first (and remembers
/// the link for after); signed in, the invitation with an "Accept" button.
pub async fn invitation(
    session: Session,
    State(state): State<WebState>,
    Path(secret): Path<String>,
) -> Response {
    let current = match signed_in(&session, &state) {
        Ok(current) => current,
        Err(error) => return service_error(error),
    };
    let invitation = match usable_invitation(&state, current.as_ref(), &secret) {
        Ok(invitation) => invitation,
        Err(response) => return response,
    };
    let action = format!("/invitations/{secret}");
    if current.is_none() {
        session.insert(SESSION_AFTER_LOGIN, action.clone());
    }
    let page = InvitePage {
        base: current.as_ref().map(Base::of),
        slug: invitation.slug.to_string(),
        role: invitation.role.as_str(),
        expires: when(invitation.expires_at),
        signed_out: current.is_none(),
        action,
    };
    render(&state, "invite.html", page, StatusCode::OK)
}

/// Accepts the link's invitation (once, before it expires) and switches the session to the
/// organisation it joins.
pub async fn accept(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    session: Session,
    State(state): State<WebState>,
    Path(secret): Path<String>,
) -> Response {
    let invitation = match usable_invitation(&state, Some(&current), &secret) {
        Ok(invitation) => invitation,
        Err(response) => return response,
    };
    let op = WriteOp::AcceptInvitation {
        id: invitation.id,
        user: current.user.id,
        now: state.ledger.now(),
    };
    match state
        .ledger
        .write_as(invitation.tenant, actor(&current, &peer), op)
        .await
    {
        Ok(WriteOutcome::Joined(membership)) => {
            session.remove(SESSION_AFTER_LOGIN);
            session.insert(SESSION_TENANT, membership.slug.to_string());
            flash.success(format!(
                "You joined {} as {}.",
                membership.slug, membership.role
            ));
            htmx.redirect("/")
        }
        Ok(_) => service_error(ServiceError::Failed(
            "an acceptance came back as another write",
        )),
        Err(ServiceError::Store(StoreError::Refused(_))) => Response::error(
            GONE,
            "This invitation has been used already or has expired.",
        ),
        Err(error) => write_failed(error),
    }
}

// ---- API tokens -----------------------------------------------------------------------------

#[derive(Serialize)]
struct TokensPage<'a> {
    #[serde(flatten)]
    base: Base<'a>,
    tokens: Vec<TokenView>,
    /// The token just made: shown this once.
    new_token: Option<String>,
}

#[derive(Serialize)]
struct TokenView {
    id: i64,
    scope: &'static str,
    created: String,
    revoked: Option<String>,
}

pub async fn tokens(CurrentUser(current): CurrentUser, State(state): State<WebState>) -> Response {
    if let Err(response) = may_manage(&current) {
        return response;
    }
    tokens_page(&state, &current, None, StatusCode::OK)
}

fn tokens_page(
    state: &WebState,
    current: &SessionUser,
    new_token: Option<String>,
    status: StatusCode,
) -> Response {
    let tokens = match state
        .ledger
        .read_tenant(current.tenant.tenant, |store, tenant| store.tokens(tenant))
    {
        Ok(tokens) => tokens,
        Err(error) => return service_error(error),
    };
    let page = TokensPage {
        base: Base::of(current),
        tokens: tokens
            .into_iter()
            .map(|token| TokenView {
                id: token.id.0,
                scope: token.scope.as_str(),
                created: when(token.created_at),
                revoked: token.revoked_at.map(when),
            })
            .collect(),
        new_token,
    };
    render(state, "tokens.html", page, status)
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenFields {
    #[serde(default)]
    scope: String,
}

/// Makes an API token for the organisation and shows it once.
pub async fn create_token(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    State(state): State<WebState>,
    Form(fields): Form<TokenFields>,
) -> Response {
    if let Err(response) = may_manage(&current) {
        return response;
    }
    let Ok(scope) = Scope::parse(fields.scope.trim()) else {
        return Response::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Scope: choose read or write.",
        );
    };
    let secret = match fresh_secret() {
        Ok(secret) => secret,
        Err(response) => return response,
    };
    let op = WriteOp::CreateToken {
        scope,
        hash: TokenHash::of(&secret),
        now: state.ledger.now(),
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(WriteOutcome::Token(id)) => {
            let text = crate::domain::token::PresentedToken { id, secret }.to_text();
            tokens_page(&state, &current, Some(text), StatusCode::CREATED)
        }
        Ok(_) => service_error(ServiceError::Failed("a token came back as another write")),
        Err(error) => write_failed(error),
    }
}

pub async fn revoke_token(
    CurrentUser(current): CurrentUser,
    peer: Peer,
    htmx: Htmx,
    flash: Flash,
    State(state): State<WebState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(response) = may_manage(&current) {
        return response;
    }
    let op = WriteOp::RevokeToken {
        id: TokenId(id),
        now: state.ledger.now(),
    };
    match write_as_user(&state, &current, &peer, op).await {
        Ok(_) => {
            flash.success(format!("Token {id} revoked."));
            htmx.redirect("/tokens")
        }
        Err(error) => write_failed(error),
    }
}
