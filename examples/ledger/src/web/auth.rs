//! Sign-up, log-in, log-out and switching organisation, and `CurrentUser`: the extractor
//! every signed-in page takes (no session, or a session naming nobody: a redirect to the
//! log-in page, `HX-Redirect` for htmx).
//!
//! A session holds the user's id and the slug of the organisation they work in. Log-in empties
//! the session before it writes them (a session planted before log-in carries nothing over but
//! where to go next: an invitation link, `SESSION_AFTER_LOGIN`, and nothing off the app);
//! log-out ends the person's sessions on every device (their session generation moves on, so
//! a copied cookie stops working too) and a session lasts `WEB_SESSION_LIFETIME_SECS` at most. Every log-in failure shows the same message. Not here: who may do what
//! inside an organisation (each write screen checks `Role`), passwords and throttling
//! (`service::accounts`).

use super::WebState;
use crate::domain::UserId;
use crate::limits::WEB_SESSION_LIFETIME_SECS;
use crate::service::ServiceError;
use crate::service::accounts::{LoginError, SessionUser, SignUpError, SignUpForm};
use crate::store::StoreError;
use kiln::app::{Flash, Form, FromRequest, Html, IntoResponse, RequestContext, Session, State};
use kiln::htmx::Htmx;
use kiln::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Session key of the signed-in user's id.
const SESSION_USER: &str = "user";
/// Session key of the organisation (slug) the user works in.
pub(super) const SESSION_TENANT: &str = "tenant";
/// Session key of the user's session generation at log-in (`Store::end_sessions` raises it).
const SESSION_GENERATION: &str = "generation";
/// Session key of the log-in time (seconds since the epoch).
const SESSION_SINCE: &str = "since";
/// Session key of the page to go back to after log-in or sign-up (an invitation link, the
/// one page that sends a signed-out visitor away and wants them back).
pub(super) const SESSION_AFTER_LOGIN: &str = "after_login";

/// Where to go after log-in or sign-up: the invitation kept in the session, else the
/// dashboard (only an `/invitations/` path is followed: no redirect off the app).
fn after_login(session: &Session) -> String {
    session
        .get(SESSION_AFTER_LOGIN)
        .filter(|path| path.starts_with("/invitations/") && !path.contains("//"))
        .unwrap_or_else(|| "/".to_owned())
}

/// The signed-in person, in their current organisation.
pub struct CurrentUser(pub SessionUser);

impl FromRequest<WebState> for CurrentUser {
    type Rejection = Response;
    async fn from_request(cx: &mut RequestContext<WebState>) -> Result<CurrentUser, Response> {
        let htmx = Htmx::from_request(cx)
            .await
            .unwrap_or_else(|never| match never {});
        let session = Session::from_request(cx)
            .await
            .map_err(IntoResponse::into_response)?;
        match signed_in(&session, cx.state()) {
            Ok(Some(current)) => Ok(CurrentUser(current)),
            Ok(None) => Err(htmx.redirect("/login")),
            Err(error) => Err(service_error(error)),
        }
    }
}

/// The session's person in their current organisation, if the session names one (a session
/// naming someone unknown is emptied).
pub(super) fn signed_in(
    session: &Session,
    state: &WebState,
) -> Result<Option<SessionUser>, ServiceError> {
    let user = session
        .get(SESSION_USER)
        .and_then(|id| id.parse::<i64>().ok())
        .map(crate::domain::UserId);
    let Some(user) = user else {
        return Ok(None);
    };
    let tenant = session.get(SESSION_TENANT);
    let current = state.ledger.session_user(user, tenant.as_deref())?;
    // A session ends with log-out (on any device: the generation moves on) or with its
    // lifetime; either way it is emptied.
    let generation = session
        .get(SESSION_GENERATION)
        .and_then(|g| g.parse::<i64>().ok());
    let since = session
        .get(SESSION_SINCE)
        .and_then(|s| s.parse::<i64>().ok());
    let now = state.ledger.now().0;
    let current = current.filter(|current| {
        session_is_current(generation, since, current.user.session_generation, now)
    });
    if current.is_none() {
        session.clear();
    }
    Ok(current)
}

/// Whether a session made in `generation` at `since` is still on for a user now in
/// `user_generation`: the same generation (no log-out since) and younger than
/// `WEB_SESSION_LIFETIME_SECS` (a clock that went back counts as expired).
fn session_is_current(
    generation: Option<i64>,
    since: Option<i64>,
    user_generation: i64,
    now: i64,
) -> bool {
    generation == Some(user_generation)
        && since.is_some_and(|since| (0..WEB_SESSION_LIFETIME_SECS).contains(&(now - since)))
}

/// Starts a session for `user` (after the session was emptied): who, in which generation,
/// since when.
fn start_session(session: &Session, state: &WebState, user: UserId, generation: i64) {
    session.insert(SESSION_USER, user.0.to_string());
    session.insert(SESSION_GENERATION, generation.to_string());
    session.insert(SESSION_SINCE, state.ledger.now().0.to_string());
}

/// The part of every signed-in page's context that the layout reads.
#[derive(Serialize)]
pub struct Base<'a> {
    pub user: UserView<'a>,
    pub tenant: TenantView<'a>,
    pub memberships: Vec<TenantView<'a>>,
}

#[derive(Serialize)]
pub struct UserView<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

#[derive(Serialize)]
pub struct TenantView<'a> {
    pub slug: &'a str,
    pub role: &'static str,
}

impl<'a> Base<'a> {
    pub fn of(current: &'a SessionUser) -> Base<'a> {
        let view = |m: &'a crate::store::Membership| TenantView {
            slug: m.slug.as_str(),
            role: m.role.as_str(),
        };
        Base {
            user: UserView {
                name: current.user.name.as_str(),
                email: current.user.email.as_str(),
            },
            tenant: view(&current.tenant),
            memberships: current.memberships.iter().map(view).collect(),
        }
    }
}

/// A 500 for a failure of the ledger itself (logged; the page says only that it failed).
pub fn service_error(error: ServiceError) -> Response {
    tracing::error!(?error, "a page failed");
    Response::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The ledger could not complete this request; it has been logged.",
    )
}

/// 403 unless the person's role may write (viewers read only).
pub(super) fn may_write(current: &SessionUser) -> Result<(), Response> {
    if current.role().can_write() {
        return Ok(());
    }
    Err(Response::error(
        StatusCode::FORBIDDEN,
        &format!(
            "Your role in {} ({}) may read the books but not change them.",
            current.tenant.slug,
            current.role()
        ),
    ))
}

/// Who the audit log names for a page's write: `user:{id}`, from the client's address.
pub(super) fn actor(current: &SessionUser, peer: &Peer) -> crate::domain::Actor {
    let origin = peer.0.map(|ip| ip.to_string());
    crate::domain::Actor::new(&format!("user:{}", current.user.id), origin.as_deref())
        .unwrap_or_else(|_| crate::domain::Actor::system())
}

/// Writes `op` to the person's current organisation through the writer, naming them (and the
/// client's address) in the audit log.
pub(super) async fn write_as_user(
    state: &WebState,
    current: &SessionUser,
    peer: &Peer,
    op: crate::store::WriteOp,
) -> Result<crate::store::WriteOutcome, ServiceError> {
    state
        .ledger
        .write_as(current.tenant.tenant, actor(current, peer), op)
        .await
}

/// What to tell a person about a refused write (`None`: a failure of the ledger itself).
pub(super) fn refusal_message(error: &ServiceError) -> Option<String> {
    match error {
        ServiceError::Store(StoreError::Refused(refusal)) => Some(refusal.to_string()),
        ServiceError::Store(
            error @ (StoreError::NotFound { .. } | StoreError::AlreadyExists { .. }),
        ) => Some(error.to_string()),
        ServiceError::Unavailable(why) => Some((*why).to_owned()),
        _ => None,
    }
}

/// Renders a page; a page rendered for a refusal keeps the refusal's status.
pub(super) fn render(
    state: &WebState,
    template: &str,
    context: impl Serialize,
    status: StatusCode,
) -> Response {
    let mut response = state
        .templates
        .render(template, context)
        .map(Html)
        .into_response();
    if response.status == StatusCode::OK {
        response.status = status;
    }
    response
}

#[derive(Serialize)]
struct LoginPage<'a> {
    email: &'a str,
    error: Option<&'a str>,
}

pub async fn login_form(State(state): State<WebState>) -> Response {
    let page = LoginPage {
        email: "",
        error: None,
    };
    render(&state, "login.html", page, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginFields {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Checks the credentials; on success starts a fresh session and goes to the dashboard (or
/// back to the invitation that sent them here).
pub async fn log_in(
    Peer(client): Peer,
    htmx: Htmx,
    session: Session,
    State(state): State<WebState>,
    Form(fields): Form<LoginFields>,
) -> Response {
    let refused = |message: &str, status: StatusCode| {
        let page = LoginPage {
            email: &fields.email,
            error: Some(message),
        };
        render(&state, "login.html", page, status)
    };
    match state
        .ledger
        .log_in(&fields.email, &fields.password, client)
        .await
    {
        Ok(user) => {
            let next = after_login(&session);
            session.clear();
            start_session(&session, &state, user.id, user.session_generation);
            htmx.redirect(&next)
        }
        Err(LoginError::Refused) => refused(
            "That e-mail address and password do not match an account.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(LoginError::Throttled(retry)) => {
            let minutes = (retry.seconds + 59) / 60;
            let message = format!(
                "Too many failed attempts. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut response = refused(&message, StatusCode::TOO_MANY_REQUESTS);
            if let Ok(value) = kiln::http::HeaderValue::try_from(retry.seconds.to_string().as_str())
            {
                let _ = response.set_header("retry-after", value);
            }
            response
        }
        Err(LoginError::Service(error)) => service_error(error),
    }
}

/// The client's IP address (for throttling), from the connection.
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S> FromRequest<S> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Peer, Self::Rejection> {
        Ok(Peer(cx.request.peer_addr().map(|addr| addr.ip())))
    }
}

#[derive(Serialize)]
struct SignUpPage<'a> {
    values: &'a SignUpForm,
    errors: BTreeMap<&'static str, String>,
}

pub async fn signup_form(State(state): State<WebState>) -> Response {
    let values = SignUpForm::default();
    let page = SignUpPage {
        values: &values,
        errors: BTreeMap::new(),
    };
    render(&state, "signup.html", page, StatusCode::OK)
}

/// Creates the organisation and its owner, signs them in, and goes to the dashboard; a bad or
/// taken field comes back next to the field (422).
pub async fn sign_up(
    htmx: Htmx,
    flash: Flash,
    session: Session,
    State(state): State<WebState>,
    Form(form): Form<SignUpForm>,
) -> Response {
    match state.ledger.sign_up(&form).await {
        Ok((_, user)) => {
            let next = after_login(&session);
            session.clear();
            start_session(&session, &state, user, 0);
            session.insert(SESSION_TENANT, form.organisation.trim().to_owned());
            flash.success(format!("Welcome! {} is ready.", form.organisation.trim()));
            htmx.redirect(&next)
        }
        Err(SignUpError::Field { field, message }) => {
            let page = SignUpPage {
                values: &form,
                errors: BTreeMap::from([(field, message)]),
            };
            render(
                &state,
                "signup.html",
                page,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(SignUpError::Service(error)) => service_error(error),
    }
}

/// Ends the person's sessions on every device (server-side: a copy of the cookie stops
/// working too) and empties this one.
pub async fn log_out(
    htmx: Htmx,
    flash: Flash,
    session: Session,
    State(state): State<WebState>,
) -> Response {
    if let Ok(Some(current)) = signed_in(&session, &state)
        && let Err(error) = state.ledger.end_sessions(current.user.id).await
    {
        return service_error(error);
    }
    session.clear();
    flash.info("You are logged out.");
    htmx.redirect("/login")
}

#[derive(Debug, Default, Deserialize)]
pub struct SwitchFields {
    #[serde(default)]
    tenant: String,
}

/// Makes another of the user's organisations the current one (404 for one they are not in).
pub async fn switch_tenant(
    htmx: Htmx,
    session: Session,
    CurrentUser(current): CurrentUser,
    Form(fields): Form<SwitchFields>,
) -> Response {
    if !current
        .memberships
        .iter()
        .any(|m| m.slug.as_str() == fields.tenant)
    {
        return Response::error(
            StatusCode::NOT_FOUND,
            "You do not belong to that organisation.",
        );
    }
    session.insert(SESSION_TENANT, fields.tenant);
    htmx.redirect("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_with_its_generation_or_its_lifetime() {
        let at = 1_000_000;
        assert!(session_is_current(Some(3), Some(at), 3, at));
        assert!(session_is_current(
            Some(3),
            Some(at),
            3,
            at + WEB_SESSION_LIFETIME_SECS - 1
        ));
        assert!(!session_is_current(
            Some(3),
            Some(at),
            3,
            at + WEB_SESSION_LIFETIME_SECS
        ));
        assert!(
            !session_is_current(Some(3), Some(at), 4, at),
            "logged out since"
        );
        assert!(
            !session_is_current(None, Some(at), 0, at),
            "a session from before generations"
        );
        assert!(!session_is_current(Some(0), None, 0, at));
        assert!(
            !session_is_current(Some(0), Some(at), 0, at - 1),
            "the clock went back"
        );
    }
}
