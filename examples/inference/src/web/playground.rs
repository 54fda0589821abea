//! The playground: a person tries the models and says what they think of the answers.
//!
//! - `GET /playground`: the `risk` model's eight features as a form, and a search box over
//!   the document store (MiniLM).
//! - `POST /playground/risk`: scores one transaction (`Inference::decide`: the model through
//!   its traffic split, then the recalibrated threshold) and shows the score, the decision
//!   and thumbs up/down.
//! - `POST /playground/search`: the nearest documents (`Inference::search_documents`), each
//!   with an "Open" button (passive feedback: `Inference::open_result`) and thumbs up/down
//!   for the whole answer.
//! - `POST /playground/feedback`: a thumbs up or down (`Inference::record_feedback`), which
//!   feeds the approval rates, the JSONL export, the threshold recalibration and an Exp3
//!   split.
//!
//! Every form works without JavaScript (a full page comes back); with htmx only the answer's
//! block is swapped. Bad input is a 422 with the reason shown where it was typed. Like the
//! rest of the dashboard there is no authentication, and a cross-site form post is refused
//! (403). Not here: the feedback rules and the bandit (`domain/feedback.rs`,
//! `domain/bandit.rs`). Tests: `tests/cli/dashboard.rs`, `tests/browser.mjs`.

use super::{WebState, same_site};
use crate::domain::feedback::Label;
use crate::domain::{Data, Tensor};
use crate::limits::QUERY_BYTES_MAX;
use crate::service::feedback::{Decided, FeedbackInput};
use crate::service::retrieval::{Found, LoopError};
use kiln::app::{Form, Headers, State};
use kiln::htmx::Htmx;
use kiln::http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

/// The tabular model the playground scores.
const RISK_MODEL: &str = "risk";
/// Results a playground search shows.
const SEARCH_RESULTS: usize = 5;

/// The risk model's features, in input order: name, label, hint, example value.
const FEATURES: [(&str, &str, &str, &str); 8] = [
    ("amount_usd", "Amount (USD)", "e.g. 42.50", "42.50"),
    ("hour", "Hour (0-23)", "local time", "14"),
    (
        "merchant_category",
        "Merchant category (0-7)",
        "0 grocery, 1 fuel, 2 restaurants, 3 travel, 4 electronics, 5 gift cards, 6 online gaming, 7 other",
        "0",
    ),
    ("account_age_days", "Account age (days)", "0-3650", "900"),
    ("velocity_1h", "Transactions in the last hour", "0-20", "0"),
    (
        "distance_from_home_km",
        "Distance from home (km)",
        "0-5000",
        "3",
    ),
    ("is_foreign", "Foreign (0 or 1)", "0 or 1", "0"),
    ("card_present", "Card present (0 or 1)", "0 or 1", "1"),
];

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RiskForm {
    #[serde(default)]
    amount_usd: String,
    #[serde(default)]
    hour: String,
    #[serde(default)]
    merchant_category: String,
    #[serde(default)]
    account_age_days: String,
    #[serde(default)]
    velocity_1h: String,
    #[serde(default)]
    distance_from_home_km: String,
    #[serde(default)]
    is_foreign: String,
    #[serde(default)]
    card_present: String,
}

impl RiskForm {
    fn examples() -> RiskForm {
        let value = |i: usize| FEATURES[i].3.to_owned();
        RiskForm {
            amount_usd: value(0),
            hour: value(1),
            merchant_category: value(2),
            account_age_days: value(3),
            velocity_1h: value(4),
            distance_from_home_km: value(5),
            is_foreign: value(6),
            card_present: value(7),
        }
    }

    fn values(&self) -> [&str; 8] {
        [
            &self.amount_usd,
            &self.hour,
            &self.merchant_category,
            &self.account_age_days,
            &self.velocity_1h,
            &self.distance_from_home_km,
            &self.is_foreign,
            &self.card_present,
        ]
    }

    /// The features as the model's `[1, 8]` input, or the first field that is not a finite
    /// number (with its label).
    fn features(&self) -> Result<Tensor, String> {
        let mut row = Vec::with_capacity(FEATURES.len());
        for ((_, label, _, _), text) in FEATURES.iter().zip(self.values()) {
            match text.trim().parse::<f32>() {
                Ok(value) if value.is_finite() => row.push(value),
                _ => return Err(format!("{label}: type a number, not {:?}.", text.trim())),
            }
        }
        Tensor::new("features", vec![1, FEATURES.len()], Data::F32(row))
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    query: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    model: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    score: Option<String>,
    #[serde(default)]
    predicted: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    search_id: String,
    #[serde(default)]
    document_id: String,
}

#[derive(Serialize)]
struct Field<'a> {
    name: &'a str,
    label: &'a str,
    hint: &'a str,
    value: &'a str,
}

#[derive(Serialize, Default)]
struct Page<'a> {
    fields: Vec<Field<'a>>,
    risk: Option<&'a Decided>,
    risk_error: Option<String>,
    query: &'a str,
    found: Option<&'a Found>,
    search_error: Option<String>,
    feedback: Option<String>,
    opened: Option<String>,
}

fn page<'a>(form: &'a RiskForm, query: &'a str) -> Page<'a> {
    Page {
        fields: FEATURES
            .iter()
            .zip(form.values())
            .map(|((name, label, hint, _), value)| Field {
                name,
                label,
                hint,
                value,
            })
            .collect(),
        query,
        ..Page::default()
    }
}

/// The whole page, or with htmx only `block` (the answer that changed).
fn answer(
    state: &WebState,
    htmx: &Htmx,
    block: &str,
    page: Page<'_>,
    status: StatusCode,
) -> Response {
    let mut response = htmx.render(&state.templates, "playground.html", block, page);
    if response.status == StatusCode::OK {
        response.status = status;
    }
    response
}

fn status_of(error: &LoopError) -> StatusCode {
    crate::api::error::ApiError::from(error.clone()).status
}

pub async fn show(State(state): State<WebState>, htmx: Htmx) -> Response {
    let form = RiskForm::examples();
    answer(&state, &htmx, "risk", page(&form, ""), StatusCode::OK)
}

pub async fn risk(
    State(state): State<WebState>,
    htmx: Htmx,
    headers: Headers,
    Form(form): Form<RiskForm>,
) -> Response {
    if let Err(refused) = same_site(&headers) {
        return refused;
    }
    let mut view = page(&form, "");
    let features = match form.features() {
        Ok(features) => features,
        Err(why) => {
            view.risk_error = Some(why);
            return answer(
                &state,
                &htmx,
                "risk",
                view,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match state.service.decide(RISK_MODEL, None, features).await {
        Ok(decided) => {
            view.risk = Some(&decided);
            answer(&state, &htmx, "risk", view, StatusCode::OK)
        }
        Err(error) => {
            let status = status_of(&error);
            view.risk_error = Some(error.to_string());
            answer(&state, &htmx, "risk", view, status)
        }
    }
}

pub async fn search(
    State(state): State<WebState>,
    htmx: Htmx,
    headers: Headers,
    Form(form): Form<SearchForm>,
) -> Response {
    if let Err(refused) = same_site(&headers) {
        return refused;
    }
    let examples = RiskForm::examples();
    let query = form.query.trim();
    let mut view = page(&examples, query);
    if query.is_empty() || query.len() > QUERY_BYTES_MAX {
        view.search_error = Some(format!("Type a query of 1 to {QUERY_BYTES_MAX} bytes."));
        return answer(
            &state,
            &htmx,
            "search",
            view,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match state
        .service
        .search_documents(query.to_owned(), SEARCH_RESULTS)
        .await
    {
        Ok(found) => {
            view.found = Some(&found);
            answer(&state, &htmx, "search", view, StatusCode::OK)
        }
        Err(error) => {
            let status = status_of(&error);
            view.search_error = Some(error.to_string());
            answer(&state, &htmx, "search", view, status)
        }
    }
}

pub async fn open(
    State(state): State<WebState>,
    htmx: Htmx,
    headers: Headers,
    Form(form): Form<OpenForm>,
) -> Response {
    if let Err(refused) = same_site(&headers) {
        return refused;
    }
    let examples = RiskForm::examples();
    let mut view = page(&examples, "");
    let ids = (
        form.search_id.trim().parse::<i64>(),
        form.document_id.trim().parse::<i64>(),
    );
    let (Ok(search_id), Ok(document_id)) = ids else {
        view.opened = Some("That result is not one this page showed.".to_owned());
        return answer(
            &state,
            &htmx,
            "opened",
            view,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match state.service.open_result(search_id, document_id).await {
        Ok(rank) => {
            view.opened = Some(format!(
                "Opened result {} of search {search_id}: recorded as a sign that the answer helped.",
                rank + 1
            ));
            answer(&state, &htmx, "opened", view, StatusCode::OK)
        }
        Err(error) => {
            let status = status_of(&error);
            view.opened = Some(error.to_string());
            answer(&state, &htmx, "opened", view, status)
        }
    }
}

pub async fn feedback(
    State(state): State<WebState>,
    htmx: Htmx,
    headers: Headers,
    Form(form): Form<FeedbackForm>,
) -> Response {
    if let Err(refused) = same_site(&headers) {
        return refused;
    }
    let examples = RiskForm::examples();
    let mut view = page(&examples, "");
    let parsed = (
        Label::parse(form.label.trim()),
        form.version.trim().parse::<u64>().ok().filter(|v| *v > 0),
    );
    let (Some(label), Some(version)) = parsed else {
        view.feedback =
            Some("Feedback needs a label (up or down) and the answer's version.".into());
        return answer(
            &state,
            &htmx,
            "feedback",
            view,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let input = FeedbackInput {
        model: form.model.trim().to_owned(),
        version,
        subject: form.subject.trim().to_owned(),
        label,
        score: form.score.as_deref().and_then(|s| s.trim().parse().ok()),
        predicted: form.predicted.as_deref().map(|p| p.trim() == "true"),
    };
    let model = input.model.clone();
    match state.service.record_feedback(input).await {
        Ok(id) => {
            view.feedback = Some(format!(
                "Thanks: your thumbs {} for {model} version {version} is recorded (#{id}).",
                label.as_str()
            ));
            answer(&state, &htmx, "feedback", view, StatusCode::OK)
        }
        Err(error) => {
            let status = status_of(&error);
            view.feedback = Some(error.to_string());
            answer(&state, &htmx, "feedback", view, status)
        }
    }
}
