//! The app's own error pages: `App::on_error` renders every plain error response (kiln's
//! rejections, 404, 405, the CSRF 403, a panic's 500, `Response::error` from a handler) with
//! the app's templates, and `App::error_target` makes htmx show a failed request's error in a
//! message area (`HX-Retarget`/`HX-Reswap`) instead of nowhere.
//!
//! Details (a panic message, a template error) appear only in development mode: in production
//! a 5xx carries the generic reason whatever produced it. What it does not do: touch responses
//! the app designed itself (a page with status 422 is left alone), or see errors answered
//! before a request exists (a malformed request, a body over the size limit: the server
//! answers those with plain text and closes). Tests: `app/tests.rs` (`errors` section).

use super::response::IntoResponse;
use super::scope::Scope;
use crate::htmx::Htmx;
use crate::http::{HeaderValue, Request, Response, StatusCode};

type Render<S> = std::sync::Arc<dyn Fn(&ErrorPage<'_, S>) -> Response + Send + Sync>;

/// What `App::on_error` and `App::error_target` configured.
pub(crate) struct ErrorPages<S> {
    pub(crate) render: Option<Render<S>>,
    /// `(HX-Retarget, HX-Reswap)` for htmx requests.
    pub(crate) target: Option<(HeaderValue, HeaderValue)>,
}

impl<S> Clone for ErrorPages<S> {
    fn clone(&self) -> Self {
        ErrorPages {
            render: self.render.clone(),
            target: self.target.clone(),
        }
    }
}

/// An error about to be answered, for the app's error page.
#[derive(Debug)]
pub struct ErrorPage<'a, S> {
    status: StatusCode,
    message: &'a str,
    state: &'a S,
    request: &'a Request,
    htmx: Htmx,
    dev_mode: bool,
}

impl<S> ErrorPage<'_, S> {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What went wrong, fit to show the user: the rejection's reason for a 4xx; for a 5xx in
    /// production only the generic reason, in development mode the details.
    pub fn message(&self) -> &str {
        self.message
    }

    /// The app state (templates live there).
    pub fn state(&self) -> &S {
        self.state
    }

    /// The request that failed (its body is not kept).
    pub fn request(&self) -> &Request {
        self.request
    }

    /// The request's htmx headers: render a fragment for `htmx().is_htmx()`.
    pub fn htmx(&self) -> &Htmx {
        &self.htmx
    }

    pub fn dev_mode(&self) -> bool {
        self.dev_mode
    }
}

/// The reason shown for a 5xx outside development mode, whatever the response said.
const GENERIC_SERVER_ERROR: &str = "Internal Server Error";

impl<S> ErrorPages<S> {
    /// Renders `response` with the app's page if it is a plain error; other responses pass.
    pub(crate) fn render(
        &self,
        response: Response,
        state: &S,
        scope: &Scope,
        dev_mode: bool,
    ) -> Response {
        let Some(reason) = response.plain_error() else {
            return response;
        };
        let status = response.status;
        let message = if status.as_u16() >= 500 && !dev_mode {
            match status {
                StatusCode::INTERNAL_SERVER_ERROR => GENERIC_SERVER_ERROR.to_owned(),
                other => other.reason().to_owned(),
            }
        } else {
            reason.to_owned()
        };
        let page = ErrorPage {
            status,
            message: &message,
            state,
            request: &scope.request,
            htmx: Htmx::from_headers(&scope.request),
            dev_mode,
        };
        let mut rendered = match &self.render {
            Some(render) => {
                let mut rendered = render(&page);
                if rendered.plain_error().is_some() {
                    // The page itself failed (a template error, logged where it happened):
                    // the original error stands, with its status and reason.
                    response
                } else {
                    if rendered.status == StatusCode::OK {
                        rendered.status = status;
                    }
                    keep_headers(&response, &mut rendered);
                    rendered
                }
            }
            None => response,
        };
        if page.htmx.is_htmx()
            && let Some((target, swap)) = &self.target
            && rendered.header("hx-retarget").is_none()
        {
            let _ = rendered.set_header("hx-retarget", target.clone());
            let _ = rendered.set_header("hx-reswap", swap.clone());
        }
        crate::htmx::merge_vary(&mut rendered, "HX-Request");
        rendered
    }
}

/// The original error's headers (`Allow` on a 405, `Retry-After` on a 503, cookies and the
/// security headers the middleware chain added) carry over to the app's page, except its
/// `Content-Type`; the page's own headers win, and every `Set-Cookie` is kept.
fn keep_headers(original: &Response, rendered: &mut Response) {
    for (name, value) in &original.headers {
        let cookie = name.eq_ignore_ascii_case("set-cookie");
        let replaced = name.eq_ignore_ascii_case("content-type") || rendered.header(name).is_some();
        if cookie || !replaced {
            rendered.headers.push((name.clone(), value.clone()));
        }
    }
}

impl<S> IntoResponse for ErrorPage<'_, S> {
    /// The plain reason as text (what kiln answers without an error page).
    fn into_response(self) -> Response {
        Response::error(self.status, self.message)
    }
}
