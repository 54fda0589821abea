//! Flash messages: a handler says "Saved." (`Flash::success`), the message waits in the session
//! across a 303 redirect or an `HX-Redirect`, and the next page that renders
//! `flash_messages()` shows it, once: reading consumes it.
//!
//! Messages live in the signed session cookie (`SessionLayer` is required: without it the
//! extractor answers 500 and `flash_messages()` fails the render, both saying so). At most
//! `FLASH_MESSAGES_MAX` wait at once; beyond that the oldest is dropped. What it does not do:
//! render (the template decides the markup) or translate. Tests: `app/tests.rs` (`flash`).

use super::context::RequestContext;
use super::extract::FromRequest;
use super::rejection::Rejection;
use super::session::Session;
use serde::{Deserialize, Serialize};

/// Most messages waiting in one session; one more drops the oldest.
pub const FLASH_MESSAGES_MAX: usize = 16;
/// The session key the messages are kept under.
pub(crate) const FLASH_SESSION_KEY: &str = "_flash";

/// How a message should look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Success,
    Warning,
    Error,
}

/// One message, as templates see it: `{{ message.level }}` (`info`, `success`, `warning`,
/// `error`) and `{{ message.text }}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashMessage {
    pub level: Level,
    pub text: String,
}

/// Sets flash messages for the next page (an extractor; needs `SessionLayer`).
///
/// ```
/// use kiln::app::{Flash, Redirect};
///
/// async fn save(flash: Flash) -> Redirect {
///     flash.success("Account saved.");
///     Redirect::to("/accounts")
/// }
/// ```
/// and in the layout:
/// ```jinja
/// {% for message in flash_messages() %}
///   <p class="flash {{ message.level }}">{{ message.text }}</p>
/// {% endfor %}
/// ```
#[derive(Clone, Debug)]
pub struct Flash {
    session: Session,
}

impl Flash {
    pub fn info(&self, text: impl Into<String>) {
        self.push(Level::Info, text);
    }

    pub fn success(&self, text: impl Into<String>) {
        self.push(Level::Success, text);
    }

    pub fn warning(&self, text: impl Into<String>) {
        self.push(Level::Warning, text);
    }

    pub fn error(&self, text: impl Into<String>) {
        self.push(Level::Error, text);
    }

    /// Adds a message with this level.
    pub fn push(&self, level: Level, text: impl Into<String>) {
        let mut messages = read(&self.session);
        if messages.len() >= FLASH_MESSAGES_MAX {
            tracing::warn!(
                max = FLASH_MESSAGES_MAX,
                "too many flash messages waiting; dropping the oldest"
            );
            messages.remove(0);
        }
        messages.push(FlashMessage {
            level,
            text: text.into(),
        });
        match sonic_rs::to_string(&messages) {
            Ok(json) => self.session.insert(FLASH_SESSION_KEY, json),
            Err(error) => tracing::error!(%error, "flash message not saved"),
        }
    }

    /// The waiting messages, without consuming them.
    pub fn peek(&self) -> Vec<FlashMessage> {
        read(&self.session)
    }

    /// Takes the waiting messages (what `flash_messages()` does in templates).
    pub fn take(&self) -> Vec<FlashMessage> {
        take(&self.session)
    }
}

fn read(session: &Session) -> Vec<FlashMessage> {
    session
        .get(FLASH_SESSION_KEY)
        .and_then(|json| sonic_rs::from_str(&json).ok())
        .unwrap_or_default()
}

/// Removes and returns the session's flash messages.
pub(crate) fn take(session: &Session) -> Vec<FlashMessage> {
    let messages = read(session);
    if session.get(FLASH_SESSION_KEY).is_some() {
        session.remove(FLASH_SESSION_KEY);
    }
    messages
}

impl<S> FromRequest<S> for Flash {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        let session = cx
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(Rejection::MissingMiddleware("SessionLayer (for Flash)"))?;
        Ok(Flash { session })
    }
}
