//! `contacts`: the Contact.app of the Hypermedia Systems book on kiln, as a new user writes it:
//! active search, a form with validation errors and a flash message after the redirect, delete
//! and bulk delete with htmx, an error area for failed htmx requests, CSRF on every form and
//! htmx request, and links built from route names.
//!
//! The store is in memory (a bounded list behind a mutex): this example shows the web layer,
//! not storage (the ledger does that). Tests: `tests/it.rs` (the app through `TestClient`, and
//! a real Chromium driving the served pages).

use kiln::app::{
    App, Csrf, ErrorPage, Flash, Form, Html, IntoResponse, Path, Query, Redirect, SessionLayer,
    State, Urls, get,
};
use kiln::htmx::Htmx;
use kiln::http::{Response, StatusCode};
use kiln::template::{EmbeddedTemplates, Templates};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

static TEMPLATES: EmbeddedTemplates = kiln::templates!("templates/contacts");

/// Most contacts the in-memory store holds; adding one more is refused with a message.
pub const CONTACTS_MAX: usize = 10_000;
/// Longest name or e-mail address accepted, in characters.
pub const FIELD_CHARS_MAX: usize = 200;

/// One contact.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Contact {
    pub id: u64,
    pub name: String,
    pub email: String,
}

/// The contacts, in memory.
#[derive(Debug, Default)]
pub struct Store {
    inner: Mutex<StoreInner>,
}

#[derive(Debug, Default)]
struct StoreInner {
    contacts: Vec<Contact>,
    next_id: u64,
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, StoreInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Contacts whose name or e-mail contains `query` (case-insensitive), in insertion order.
    pub fn search(&self, query: &str) -> Vec<Contact> {
        let query = query.trim().to_lowercase();
        self.lock()
            .contacts
            .iter()
            .filter(|c| {
                query.is_empty()
                    || c.name.to_lowercase().contains(&query)
                    || c.email.to_lowercase().contains(&query)
            })
            .cloned()
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<Contact> {
        self.lock().contacts.iter().find(|c| c.id == id).cloned()
    }

    /// Adds a validated contact; `Err` when the store is full.
    pub fn add(&self, new: Valid) -> Result<Contact, &'static str> {
        let mut inner = self.lock();
        if inner.contacts.len() >= CONTACTS_MAX {
            return Err("the address book is full");
        }
        inner.next_id += 1;
        let contact = Contact {
            id: inner.next_id,
            name: new.name,
            email: new.email,
        };
        inner.contacts.push(contact.clone());
        Ok(contact)
    }

    /// Removes the contacts with these ids; returns how many there were.
    pub fn delete(&self, ids: &[u64]) -> usize {
        let mut inner = self.lock();
        let before = inner.contacts.len();
        inner.contacts.retain(|c| !ids.contains(&c.id));
        before - inner.contacts.len()
    }
}

/// What the new-contact form sends.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NewContact {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
}

/// A contact that passed validation.
#[derive(Debug)]
pub struct Valid {
    name: String,
    email: String,
}

/// Field errors of the new-contact form, shown next to each field.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct FieldErrors {
    pub name: Option<&'static str>,
    pub email: Option<&'static str>,
}

impl NewContact {
    /// Checks the fields (pure: no I/O).
    pub fn validate(&self) -> Result<Valid, FieldErrors> {
        let name = self.name.trim();
        let email = self.email.trim();
        let mut errors = FieldErrors::default();
        if name.is_empty() {
            errors.name = Some("Enter a name.");
        } else if name.chars().count() > FIELD_CHARS_MAX {
            errors.name = Some("That name is too long (200 characters at most).");
        }
        let plausible = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if email.chars().count() > FIELD_CHARS_MAX {
            errors.email = Some("That address is too long (200 characters at most).");
        } else if !plausible || email.contains(char::is_whitespace) {
            errors.email = Some("Enter an e-mail address like name@example.com.");
        }
        if errors != FieldErrors::default() {
            return Err(errors);
        }
        Ok(Valid {
            name: name.to_owned(),
            email: email.to_owned(),
        })
    }
}

/// The app state: templates and the store.
#[derive(Clone, Debug)]
pub struct AppState {
    pub templates: Templates,
    pub store: Arc<Store>,
}

#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct IndexPage<'a> {
    q: &'a str,
    contacts: Vec<Contact>,
}

/// The list, or only its rows for the active search (`hx-target="#rows"`).
async fn index(htmx: Htmx, Query(search): Query<Search>, State(app): State<AppState>) -> Response {
    let page = IndexPage {
        q: &search.q,
        contacts: app.store.search(&search.q),
    };
    htmx.render(&app.templates, "index.html", "rows", page)
}

#[derive(Serialize)]
struct FormPage<'a> {
    values: &'a NewContact,
    errors: FieldErrors,
}

fn render(templates: &Templates, name: &str, page: impl Serialize) -> Response {
    templates.render(name, page).map(Html).into_response()
}

async fn new_form(State(app): State<AppState>) -> Response {
    let values = NewContact::default();
    let page = FormPage {
        values: &values,
        errors: FieldErrors::default(),
    };
    render(&app.templates, "new.html", page)
}

/// Adds a contact: 422 with the form and its errors, or a flash message and a 303 to the list.
async fn create(
    flash: Flash,
    urls: Urls,
    State(app): State<AppState>,
    Form(form): Form<NewContact>,
) -> Response {
    let valid = match form.validate() {
        Ok(valid) => valid,
        Err(errors) => {
            let page = FormPage {
                values: &form,
                errors,
            };
            let mut response = render(&app.templates, "new.html", page);
            if response.status == StatusCode::OK {
                response.status = StatusCode::UNPROCESSABLE_ENTITY;
            }
            return response;
        }
    };
    match app.store.add(valid) {
        Ok(contact) => flash.success(format!("Added {}.", contact.name)),
        Err(reason) => flash.error(format!("Not added: {reason}.")),
    }
    Redirect::to(urls.url_for("contacts", &[]).unwrap_or_else(|_| "/".into())).into_response()
}

async fn show(Path(id): Path<u64>, State(app): State<AppState>) -> Response {
    let Some(contact) = app.store.get(id) else {
        return Response::error(StatusCode::NOT_FOUND, &format!("There is no contact {id}."));
    };
    #[derive(Serialize)]
    struct ShowPage {
        contact: Contact,
    }
    render(&app.templates, "show.html", ShowPage { contact })
}

/// Deletes one contact (htmx swaps its row away with the empty answer).
async fn delete_one(Path(id): Path<u64>, State(app): State<AppState>) -> Response {
    if app.store.delete(&[id]) == 0 {
        return Response::error(
            StatusCode::NOT_FOUND,
            &format!("Contact {id} was already deleted."),
        );
    }
    Html("").into_response()
}

#[derive(Debug, Deserialize)]
struct Selected {
    #[serde(default)]
    ids: Vec<u64>,
}

/// Deletes the checked contacts (htmx 2 sends them in the query string), then reloads the list
/// with a flash message.
async fn delete_selected(
    htmx: Htmx,
    flash: Flash,
    urls: Urls,
    State(app): State<AppState>,
    Form(selected): Form<Selected>,
) -> Response {
    if selected.ids.is_empty() {
        return Response::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Select contacts to delete first.",
        );
    }
    let deleted = app.store.delete(&selected.ids);
    let noun = if deleted == 1 { "contact" } else { "contacts" };
    flash.success(format!("Deleted {deleted} {noun}."));
    htmx.redirect(&urls.url_for("contacts", &[]).unwrap_or_else(|_| "/".into()))
}

#[derive(Serialize)]
struct ErrorContext<'a> {
    status: u16,
    message: &'a str,
}

/// Every error in the app's layout; an htmx request gets the message alone, in `#errors`.
fn error_page(page: &ErrorPage<'_, AppState>) -> Response {
    let context = ErrorContext {
        status: page.status().as_u16(),
        message: page.message(),
    };
    page.htmx()
        .render(&page.state().templates, "error.html", "message", context)
}

/// Cookie settings: `Secure` unless the app is served over plain HTTP on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cookies {
    Secure,
    PlainHttp,
}

/// The app, with the store given and sessions signed with `secret` (at least 32 bytes).
pub fn app(secret: &[u8], store: Arc<Store>, cookies: Cookies) -> anyhow::Result<App<AppState>> {
    let templates = Templates::new(TEMPLATES)?;
    let secure = cookies == Cookies::Secure;
    Ok(App::with_state(AppState { templates, store })
        .route("/", get(|| async { Redirect::to("/contacts") }))
        .route(
            "/contacts",
            get(index)
                .post(create)
                .delete(delete_selected)
                .name("contacts"),
        )
        .route("/contacts/new", get(new_form).name("new_contact"))
        .route(
            "/contacts/{id}",
            get(show).delete(delete_one).name("contact"),
        )
        .around(kiln::app::middleware::trace())
        .around(kiln::app::middleware::SecurityHeaders::default().layer())
        .around(SessionLayer::new(secret)?.secure(secure).layer())
        .around(Csrf::new(secret)?.secure(secure).layer())
        .on_error(error_page)
        .error_target("#errors", "innerHTML"))
}
