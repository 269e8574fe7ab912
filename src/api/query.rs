//! Query parameters: only the ones an endpoint names, each at most once, numbers in range; any
//! other answers 400 naming the parameter, in the API's JSON error shape.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error_body;

/// A request refused before any work: the status and what to fix.
#[derive(Debug)]
pub struct Refusal(pub StatusCode, pub String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error_body(self.0, self.1)
    }
}

pub struct Parameters(BTreeMap<String, String>);

impl Parameters {
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Parameters, Refusal> {
        let mut found = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if !allowed.contains(&name.as_ref()) {
                let known = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
                return Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter `{}`; this endpoint takes {known}", clip(&name)),
                ));
            }
            if found.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(Refusal(StatusCode::BAD_REQUEST, format!("query parameter `{}` given twice", clip(&name))));
            }
        }
        Ok(Parameters(found))
    }

    /// A text parameter; empty counts as absent.
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// A whole number in `0..=max`, `default` when absent.
    pub fn number(&self, name: &str, default: u64, max: u64) -> Result<u64, Refusal> {
        match self.0.get(name) {
            None => Ok(default),
            Some(text) => match text.parse::<u64>() {
                Ok(value) if value <= max => Ok(value),
                _ => Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    format!("query parameter `{name}` must be a whole number from 0 to {max}, not `{}`", clip(text)),
                )),
            },
        }
    }
}

/// Echoes user input in messages only up to a sane length.
pub fn clip(text: &str) -> String {
    text.chars().take(100).collect()
}
