//! `application/problem+json` answers (RFC 9457): a `detail` a person can act on and, for
//! invalid fields, `errors: [{field, message}]`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tranche_domain::error::FieldError;
use tranche_domain::use_cases::UseCaseError;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI reference naming the kind of problem, relative to the API.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    #[serde(serialize_with = "serialize_status")]
    pub status: StatusCode,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            problem_type: format!("/problems/{kind}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] if one.field.is_empty() => one.message.clone(),
            [one] => format!("The field `{}` {}.", one.field, one.message),
            many => format!(
                "{} fields are invalid: {}. Fix them and send the request again.",
                many.len(),
                many.iter()
                    .map(|e| format!("`{}`", e.field))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Problem {
            errors,
            ..Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-fields",
                "The request has invalid fields",
                detail,
            )
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthorized() -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or unknown API key",
            "Send the operator API key as `Authorization: Bearer <key>`.",
        )
    }

    pub fn malformed_body(reason: impl std::fmt::Display) -> Self {
        Problem {
            errors: vec![FieldError::new("body", reason.to_string())],
            ..Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-body",
                "The body is not valid JSON",
                format!("The request body is not valid JSON ({reason}). Send a JSON object."),
            )
        }
    }

    pub fn unavailable() -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            "The store could not be reached. Nothing was changed; send the request again.",
        )
    }
}

impl From<UseCaseError> for Problem {
    fn from(error: UseCaseError) -> Self {
        match error {
            UseCaseError::Invalid(errors) => Problem::invalid_fields(errors),
            UseCaseError::NotFound(detail) => Problem::not_found(detail),
            UseCaseError::Conflict(detail) => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Not allowed in this state",
                detail,
            ),
            UseCaseError::Refused { detail, errors } => Problem {
                errors,
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "refused",
                    "Refused by the creditor's settings",
                    detail,
                )
            },
            UseCaseError::Store(e) => {
                tracing::error!(error = %e, "store failed");
                Problem::unavailable()
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self).expect("a problem serializes");
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
