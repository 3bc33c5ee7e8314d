//! CloudFormation's custom resource protocol, as the deploy-time refresh speaks it: the
//! request CloudFormation sends ("Custom resource request objects") and the response
//! document PUT to its pre-signed `ResponseURL` ("Custom resource response objects", both
//! in the CloudFormation User Guide). Pure: `deploy.rs` runs the refresh and sends it.

use refresher_core::partition::PARTITIONS;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// "The total size of the response body can't exceed 4096 bytes."
pub const RESPONSE_LIMIT: usize = 4096;

/// The pre-signed URL CloudFormation reads the answer from. It grants a write to
/// CloudFormation's bucket, so it is never printed: not in a log, an error or the answer.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseUrl(String);

impl ResponseUrl {
    /// The URL itself, for the one request that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseUrl(..)")
    }
}

/// What CloudFormation asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// A request from CloudFormation that can be answered: what it asks, or why it cannot be
/// honoured (answered FAILED, nothing written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomResourceRequest {
    pub response_url: ResponseUrl,
    pub asks: Result<RequestType, String>,
    /// The fields every response copies from the request.
    pub echo: Echo,
}

/// What a response must copy from its request (empty when the request lacked it: the
/// answer then says so in its reason).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Echo {
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Sent by Update and Delete: answered unchanged, so an update is never a replacement.
    #[serde(skip)]
    pub physical_resource_id: Option<String>,
}

/// Whether an event is CloudFormation's: any other request with these keys would be
/// refused anyway, so the two never overlap.
pub fn is_custom_resource(event: &Value) -> bool {
    event
        .as_object()
        .is_some_and(|m| m.contains_key("ResponseURL") || m.contains_key("RequestType"))
}

/// Reads CloudFormation's request; `Err` when it has no usable `ResponseURL`, so that
/// nobody can be answered (the message never holds the URL).
pub fn parse(event: &Value) -> Result<CustomResourceRequest, String> {
    let empty = Map::new();
    let map = event.as_object().unwrap_or(&empty);
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    let url = text("ResponseURL")
        .filter(|u| url::Url::parse(u).is_ok_and(|u| u.scheme() == "https" && u.has_host()))
        .ok_or("a CloudFormation custom resource request without an https ResponseURL")?;
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    // CloudFormation's are pre-signed S3 URLs in AWS's own domains; an answer (which
    // names connections and secrets) goes nowhere else, whoever sent the request.
    let in_aws = PARTITIONS
        .iter()
        .any(|p| host.ends_with(&format!(".{}", p.dns_suffix)));
    if !in_aws {
        return Err(format!(
            "a CloudFormation custom resource request whose ResponseURL is not in an AWS \
             domain ({host}); nothing was written"
        ));
    }
    let response_url = ResponseUrl(url);
    let echo = Echo {
        stack_id: text("StackId").unwrap_or_default(),
        request_id: text("RequestId").unwrap_or_default(),
        logical_resource_id: text("LogicalResourceId").unwrap_or_default(),
        physical_resource_id: text("PhysicalResourceId"),
    };
    let asks = check(map, &echo);
    Ok(CustomResourceRequest {
        response_url,
        asks,
        echo,
    })
}

fn check(map: &Map<String, Value>, echo: &Echo) -> Result<RequestType, String> {
    let asks = match map.get("RequestType").and_then(Value::as_str) {
        Some("Create") => RequestType::Create,
        Some("Update") => RequestType::Update,
        Some("Delete") => RequestType::Delete,
        Some(other) => {
            return Err(format!(
                "RequestType {other:?} is not Create, Update or Delete"
            ));
        }
        None => return Err("RequestType is missing".into()),
    };
    for (key, value) in [
        ("StackId", &echo.stack_id),
        ("RequestId", &echo.request_id),
        ("LogicalResourceId", &echo.logical_resource_id),
    ] {
        if value.is_empty() {
            return Err(format!("{key} is missing"));
        }
    }
    if asks != RequestType::Create && echo.physical_resource_id.is_none() {
        return Err(format!("{asks:?} without a PhysicalResourceId"));
    }
    Ok(asks)
}

/// The response document, within CloudFormation's size limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    #[serde(flatten)]
    pub echo: Echo,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// Said when a reason had to be cut to fit.
const CUT: &str = " [cut to fit CloudFormation's 4096-byte response: the whole message is \
                   in the function's log group]";

impl Response {
    /// The answer to `request`: the physical id is the request's own (Update, Delete), or
    /// on Create one per logical resource, so a later update is never a replacement.
    pub fn new(echo: &Echo, status: Status, reason: String, data: Map<String, Value>) -> Self {
        let physical_resource_id = echo.physical_resource_id.clone().unwrap_or_else(|| {
            let logical = match echo.logical_resource_id.as_str() {
                "" => "DeployRefresh",
                logical => logical,
            };
            format!("airflow-ecr-refresher-{logical}")
        });
        Self {
            status,
            reason,
            physical_resource_id,
            echo: echo.clone(),
            data,
        }
    }

    /// The document to PUT: its reason cut (on a character boundary) until the whole body
    /// fits in `RESPONSE_LIMIT` bytes.
    pub fn body(mut self) -> String {
        let body = self.to_json();
        if body.len() <= RESPONSE_LIMIT {
            return body;
        }
        let full = std::mem::take(&mut self.reason);
        self.reason = CUT.to_owned();
        // What is left for the reason's text, counted as JSON writes each character.
        let mut room = RESPONSE_LIMIT.saturating_sub(self.to_json().len());
        let mut keep = 0;
        for (at, c) in full.char_indices() {
            let width = json_width(c);
            if width > room {
                break;
            }
            room -= width;
            keep = at + c.len_utf8();
        }
        self.reason = format!("{}{CUT}", &full[..keep]);
        self.to_json()
    }

    fn to_json(&self) -> String {
        // Strings and a map of JSON values always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// How many bytes `c` takes inside a JSON string, as serde_json escapes it.
fn json_width(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
#[path = "custom_resource_tests.rs"]
mod tests;
