//! The one HTTPS client for what is not an AWS API call: a registry's `/v2/` (the login
//! check) and CloudFormation's pre-signed `ResponseURL`. Built once per process.
//!
//! It reaches hosts the way the SDK's own client does in the same deployment: rustls on
//! aws-lc-rs, the platform's CA store (on Linux that honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`, as OpenSSL does, for a corporate CA), and the egress proxy named by
//! `HTTPS_PROXY` (`NO_PROXY` exempts hosts), as curl reads them.

use std::sync::OnceLock;
use std::time::Duration;

static SHARED: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();

/// The process's one client, built on first use: a run that only calls AWS's APIs never
/// builds it (nor loads the platform's CAs for it). A client that cannot be built is an
/// error for each use, never a panic.
pub fn shared() -> Result<&'static reqwest::Client, String> {
    SHARED.get_or_init(client).as_ref().map_err(Clone::clone)
}

/// The client: no redirects (a password or a pre-signed URL's answer goes to the host it
/// was meant for, nowhere else), HTTPS only, and timeouts well inside an invocation.
fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .https_only(true)
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("airflow-ecr-refresher/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(describe)
}

/// What went wrong, without the URL: a pre-signed URL is a credential of its own, and
/// reqwest's own message names the URL it was sending to.
pub fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_call_never_names_its_url() {
        let client = client().unwrap();
        let url = "https://127.0.0.1:9/bucket/key?X-Amz-Signature=0123456789abcdef";
        let err = client.put(url).send().await.unwrap_err();
        let text = describe(err);
        assert!(!text.contains("Signature"), "{text}");
        assert!(!text.contains("127.0.0.1"), "{text}");
        assert!(text.contains("error sending request"), "{text}");
    }

    #[tokio::test]
    async fn plain_http_is_refused() {
        let err = client().unwrap().get("http://127.0.0.1:9/v2/").send().await;
        assert!(err.unwrap_err().is_builder());
    }
}
