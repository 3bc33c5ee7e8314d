//! ECR authorization tokens and registry hosts, free of SDK types.

use crate::target::Registry;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

/// The Docker login that one region's token grants.
#[derive(Debug, Clone)]
pub struct RegistryLogin {
    pub username: String,
    pub password: SecretString,
}

/// What is wrong with a token. Never carries any part of the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the ECR authorization token is not valid base64")]
    NotBase64,
    #[error("the ECR authorization token does not decode to UTF-8 text")]
    NotText,
    #[error("the ECR authorization token is not of the form user:password")]
    NoSeparator,
    #[error("the ECR authorization token has an empty user or password")]
    Empty,
    #[error("ECR returned a proxy endpoint that is not an https URL with a host")]
    BadEndpoint,
}

/// Decodes `base64("user:password")`, splitting on the first colon as Docker does.
pub fn decode_authorization_token(token: &str) -> Result<RegistryLogin, TokenError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| TokenError::NotBase64)?;
    let text = SecretString::from(String::from_utf8(bytes).map_err(|_| TokenError::NotText)?);
    let (user, password) = text
        .expose_secret()
        .split_once(':')
        .ok_or(TokenError::NoSeparator)?;
    if user.is_empty() || password.is_empty() {
        return Err(TokenError::Empty);
    }
    Ok(RegistryLogin {
        username: user.to_owned(),
        password: SecretString::from(password.to_owned()),
    })
}

/// The bare registry host of a `proxyEndpoint` (`https://<acct>.dkr.ecr.<region>.<domain>`):
/// Docker matches credentials to images by host, so no scheme, port or path is kept.
pub fn host_from_endpoint(endpoint: &str) -> Result<String, TokenError> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .unwrap_or(endpoint);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.split(':').next().unwrap_or_default();
    if host.is_empty() || !host.contains('.') {
        return Err(TokenError::BadEndpoint);
    }
    Ok(host.to_ascii_lowercase())
}

/// The host a connection logs in to: the token's own registry, another account's registry
/// in the same region and partition (same token), or a host given in full.
pub fn registry_host(endpoint_host: &str, registry: Option<&Registry>) -> String {
    match registry {
        None => endpoint_host.to_owned(),
        Some(Registry::Host(host)) => host.as_str().to_owned(),
        Some(Registry::Account(account)) => match endpoint_host.split_once('.') {
            Some((_, rest)) => format!("{account}.{rest}"),
            None => endpoint_host.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn splits_on_the_first_colon_only() {
        let login = decode_authorization_token(&b64("AWS:pa:ss+/=%")).unwrap();
        assert_eq!(login.username, "AWS");
        assert_eq!(login.password.expose_secret(), "pa:ss+/=%");
    }

    #[test]
    fn malformed_tokens_are_typed_errors_without_the_token() {
        assert_eq!(
            decode_authorization_token("!!!").unwrap_err(),
            TokenError::NotBase64
        );
        assert_eq!(
            decode_authorization_token(&b64("AWSnopassword")).unwrap_err(),
            TokenError::NoSeparator
        );
        assert_eq!(
            decode_authorization_token(&b64("AWS:")).unwrap_err(),
            TokenError::Empty
        );
        let not_utf8 = base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b':', b'x']);
        assert_eq!(
            decode_authorization_token(&not_utf8).unwrap_err(),
            TokenError::NotText
        );
        let err = decode_authorization_token(&b64("secretvalue")).unwrap_err();
        assert!(!err.to_string().contains("secretvalue"));
    }

    #[test]
    fn debug_output_redacts_the_password() {
        let login = decode_authorization_token(&b64("AWS:hunter2")).unwrap();
        assert!(!format!("{login:?}").contains("hunter2"));
    }

    #[test]
    fn endpoint_hosts_are_bare() {
        let h = host_from_endpoint("https://123456789012.dkr.ecr.us-east-1.amazonaws.com").unwrap();
        assert_eq!(h, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
        let cn =
            host_from_endpoint("https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn:443/")
                .unwrap();
        assert_eq!(cn, "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn");
        assert_eq!(
            host_from_endpoint("https://").unwrap_err(),
            TokenError::BadEndpoint
        );
    }

    #[test]
    fn another_account_keeps_region_and_partition() {
        let own = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn";
        let other = Registry::Account("210987654321".into());
        assert_eq!(
            registry_host(own, Some(&other)),
            "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(registry_host(own, None), own);
        let host =
            Registry::try_from("210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn".to_owned())
                .unwrap();
        assert_eq!(
            registry_host(own, Some(&host)),
            "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
    }
}
