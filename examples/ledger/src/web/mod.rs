//! The web app a bookkeeper uses (issue 12), server-rendered with kiln templates
//! (`templates/ledger/`) and the app's own stylesheet (`assets/ledger/`), next to the JSON API
//! in one kiln app.
//!
//! So far: sign-up (a new organisation and its owner), log-in and log-out with signed-cookie
//! sessions (emptied and rewritten at log-in, so a session from before it carries nothing),
//! CSRF on every form and htmx request, switching between the organisations a person belongs
//! to, the dashboard (`dashboard.rs`), the books (`books/`: the accounts tree, an account's
//! register, an entry and its reversal, the new-entry form) and the reports (trial balance,
//! balance sheet, income statement, cash flow over periods, as pages and CSV: `reports.rs`),
//! people, invitations and API tokens (`people.rs`) and the audit log (`audit.rs`).
//! Every page works without JavaScript. Handlers are thin: they extract, call
//! `service::Ledger`, and render. Reconciliation is `reconcile.rs`; people, invitations and
//! API tokens `people.rs`; the audit log `audit.rs`; importing a journal or a bank CSV with a preview
//! `import.rs`; the journal download `export.rs`.

mod audit;
mod auth;
mod books;
mod dashboard;
mod export;
mod import;
mod people;
mod reconcile;
mod reports;

pub use auth::CurrentUser;
pub use books::ENTRY_FORM_ROWS_MAX;

use crate::api;
use crate::service::Ledger;
use kiln::app::{
    App, CookieSecurity, Csrf, ErrorPage, FromRef, IntoResponse, Router, SessionLayer, get, post,
};
use kiln::assets::EmbeddedAssets;
use kiln::http::Response;
use kiln::template::{EmbeddedTemplates, Templates};
use serde::Serialize;

static TEMPLATES: EmbeddedTemplates = kiln::templates!("templates/ledger");
static ASSETS: EmbeddedAssets = kiln::assets!("assets/ledger", prefix = "/static");

/// The state of the whole app: the ledger and the templates.
#[derive(Clone, Debug)]
pub struct WebState {
    pub ledger: Ledger,
    pub templates: Templates,
    /// Import previews waiting for their confirmation (shared by every worker).
    pub(crate) imports: std::sync::Arc<import::Staging>,
}

impl FromRef<WebState> for Ledger {
    fn from_ref(state: &WebState) -> Ledger {
        state.ledger.clone()
    }
}

/// Whether session and CSRF cookies are marked `Secure` (the default: right behind TLS and on
/// `localhost`, where browsers accept them over plain HTTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cookies {
    Secure,
    /// `Secure` when the proxy says the client came over HTTPS (`ledger serve
    /// --secure-cookies forwarded`; see `kiln::app::CookieSecurity`).
    SecureWhenForwardedHttps,
    /// Plain HTTP on another host than localhost (`ledger serve --secure-cookies never`).
    PlainHttp,
}

/// Why the app could not be built.
#[derive(Debug)]
pub enum WebError {
    /// The session secret is shorter than kiln accepts.
    WeakSecret,
    /// A template failed to load (a bug: templates are checked at compile time).
    Templates(String),
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebError::WeakSecret => {
                f.write_str("the session secret is too short (32 bytes at least)")
            }
            WebError::Templates(why) => write!(f, "the templates failed to load: {why}"),
        }
    }
}

impl std::error::Error for WebError {}

/// The whole app: the web pages (with sessions and CSRF) and the JSON API under `/api/v1`
/// (bearer tokens, no cookies), on one ledger. `secret` signs sessions and CSRF tokens.
pub fn app(ledger: Ledger, secret: &[u8], cookies: Cookies) -> Result<App<WebState>, WebError> {
    let templates = Templates::builder(TEMPLATES)
        .assets(&ASSETS)
        .build()
        .map_err(|error| WebError::Templates(error.to_string()))?;
    let security = match cookies {
        Cookies::Secure => CookieSecurity::Always,
        Cookies::SecureWhenForwardedHttps => CookieSecurity::WhenForwardedHttps,
        Cookies::PlainHttp => CookieSecurity::Never,
    };
    let sessions = SessionLayer::new(secret)
        .map_err(|_| WebError::WeakSecret)?
        .security(security);
    let csrf = Csrf::new(secret)
        .map_err(|_| WebError::WeakSecret)?
        .security(security);
    let pages = Router::new()
        .route("/", get(dashboard::show).name("home"))
        .route(
            "/login",
            get(auth::login_form).post(auth::log_in).name("login"),
        )
        .route(
            "/signup",
            get(auth::signup_form).post(auth::sign_up).name("signup"),
        )
        .route("/logout", post(auth::log_out).name("logout"))
        .route("/switch", post(auth::switch_tenant).name("switch_tenant"))
        .route(
            "/accounts",
            get(books::accounts)
                .post(books::create_account)
                .name("accounts"),
        )
        .route("/accounts/{name}/close", post(books::close_account))
        .route("/accounts/{name}/rename", post(books::rename_account))
        .route(
            "/commodities",
            post(books::create_commodity).name("commodities"),
        )
        .route(
            "/accounts/{name}/register",
            get(books::register).name("register"),
        )
        .route(
            "/entries/new",
            get(books::new_entry)
                .post(books::create_entry)
                .name("new_entry"),
        )
        .route("/entries/check", post(books::check_entry))
        .route(
            "/entries/new/rows",
            post(books::edit_rows).name("entry_rows"),
        )
        .route("/export", get(export::journal).name("export"))
        .route(
            "/import",
            get(import::form).post(import::upload).name("import"),
        )
        .route("/import/{id}/confirm", post(import::confirm))
        .route("/import/{id}/cancel", post(import::cancel))
        .route(
            "/reconcile",
            get(reconcile::index)
                .post(reconcile::start)
                .name("reconcile"),
        )
        .route("/reconcile/{id}", get(reconcile::show))
        .route("/reconcile/{id}/toggle", post(reconcile::toggle))
        .route("/reconcile/{id}/ticks", post(reconcile::save_ticks))
        .route("/reconcile/{id}/finish", post(reconcile::finish))
        .route("/entries/{id}", get(books::entry).name("entry"))
        .route("/entries/{id}/reverse", post(books::reverse))
        .route("/reports", get(reports::index).name("reports"))
        .route("/reports/{kind}", get(reports::show).name("report"))
        .route("/people", get(people::people).name("people"))
        .route("/people/invitations", post(people::invite).name("invite"))
        .route(
            "/people/invitations/{id}/cancel",
            post(people::cancel_invitation),
        )
        .route("/people/{user}/role", post(people::set_role))
        .route("/people/{user}/remove", post(people::remove_member))
        .route(
            "/invitations/{secret}",
            get(people::invitation)
                .post(people::accept)
                .name("invitation"),
        )
        .route(
            "/tokens",
            get(people::tokens)
                .post(people::create_token)
                .name("tokens"),
        )
        .route("/tokens/{id}/revoke", post(people::revoke_token))
        .route("/audit", get(audit::audit).name("audit"))
        .route("/audit/verify", post(audit::verify).name("audit_verify"))
        .around(sessions.layer())
        .around(csrf.layer());
    let imports = std::sync::Arc::default();
    Ok(App::with_state(WebState {
        ledger,
        templates,
        imports,
    })
    .assets(&ASSETS)
    .nest("", pages)
    .nest("/api/v1", api::router())
    .around(kiln::app::middleware::trace())
    .around(kiln::app::middleware::SecurityHeaders::default().layer())
    .on_error(error_page)
    .error_target("#errors", "innerHTML"))
}

#[derive(Serialize)]
struct ErrorContext<'a> {
    status: u16,
    message: &'a str,
}

/// Errors under `/api/` as JSON; every other one as a page in the app's look (an htmx
/// request gets the message alone, swapped into `#errors`).
fn error_page(page: &ErrorPage<'_, WebState>) -> Response {
    if page.request().path().starts_with("/api/") {
        return api::error::for_status(page.status(), page.message()).into_response();
    }
    let context = ErrorContext {
        status: page.status().as_u16(),
        message: page.message(),
    };
    page.htmx()
        .render(&page.state().templates, "error.html", "message", context)
}
