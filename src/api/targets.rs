//! `GET /api/v1/pages/{slug}/targets?postal_code=…`: whom a supporter's letter would go to,
//! found from their postal code through the district table. The page's form calls it as
//! the supporter types, so that they see their representative before sending.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::api::ApiError;
use crate::domain::country::Country;
use crate::domain::field::{Field, FieldError};
use crate::domain::postal_code::PostalCode;
use crate::services::actions::{district_targets, review_keys};
use crate::services::pages::public_page;
use crate::web::AppState;
use crate::web::i18n::{field_error, postal_example};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/pages/{slug}/targets", get(lookup))
}

#[derive(Debug, Deserialize)]
struct LookupParams {
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: Option<String>,
}

#[derive(Debug, Serialize)]
struct TargetBody {
    key: String,
    name: String,
    title: Option<String>,
    organisation: Option<String>,
    district: Option<String>,
    party: Option<String>,
}

/// `review_keys` goes back with the form as `reviewed_targets`: proof the supporter saw them.
#[derive(Debug, Serialize)]
struct LookupBody {
    targets: Vec<TargetBody>,
    review_keys: String,
}

async fn lookup(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(params): Query<LookupParams>,
) -> Result<impl IntoResponse, ApiError> {
    let page = public_page(&state.db, &slug).await?;
    let form = page.spec.form().filter(|form| form.district_targets).ok_or(ApiError::NotFound)?;
    let locale = page.spec.locale;
    let country = params
        .country
        .as_deref()
        .filter(|c| !c.is_empty())
        .or(form.default_country.as_deref())
        .and_then(|code| Country::parse(code).ok());
    let example = postal_example(country.map(Country::code));
    let refuse = |code, error: FieldError| ApiError::Unprocessable {
        code,
        message: field_error(locale, Field::PostalCode, &error, example),
    };
    let postal_code = PostalCode::parse(&params.postal_code, country.map(Country::code))
        .map_err(|error| refuse("invalid_postal_code", error))?;
    let targets = district_targets(&state.db, postal_code.as_str()).await?.map_err(|error| {
        let code = match error {
            FieldError::AmbiguousDistrict => "ambiguous_district",
            FieldError::NoTargetInDistrict => "no_target_in_district",
            _ => "unknown_district",
        };
        refuse(code, error)
    })?;
    let body = LookupBody {
        review_keys: review_keys(&targets),
        targets: targets
            .into_iter()
            .map(|t| TargetBody {
                key: t.key,
                name: t.name,
                title: t.title,
                organisation: t.organisation,
                district: t.district,
                party: t.party,
            })
            .collect(),
    };
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))], Json(body)))
}
