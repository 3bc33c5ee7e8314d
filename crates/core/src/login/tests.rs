use super::*;
use std::time::{Duration, UNIX_EPOCH};

const ENDPOINT: &str = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn login(token: &str) -> Result<Login, TokenError> {
    Login::from_authorization(&b64(token), ENDPOINT, None, None)
}

#[test]
fn splits_on_the_first_colon_only() {
    let login = login("AWS:pa:ss+/=%").unwrap();
    assert_eq!(login.username, "AWS");
    assert_eq!(login.password.expose_secret(), "pa:ss+/=%");
}

#[test]
fn malformed_tokens_are_typed_errors_without_the_token() {
    let decode = |t: &str| Login::from_authorization(t, ENDPOINT, None, None).unwrap_err();
    assert_eq!(decode("!!!"), TokenError::NotBase64);
    assert_eq!(decode(&b64("AWSnopassword")), TokenError::NoSeparator);
    assert_eq!(decode(&b64("AWS:")), TokenError::Empty);
    let not_utf8 = base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b':', b'x']);
    assert_eq!(decode(&not_utf8), TokenError::NotText);
    let err = decode(&b64("secretvalue"));
    assert!(!err.to_string().contains("secretvalue"));
}

#[test]
fn debug_output_redacts_the_password() {
    let login = login("AWS:hunter2").unwrap();
    assert!(!format!("{login:?}").contains("hunter2"));
}

#[test]
fn endpoint_hosts_are_bare() {
    let h = host_from_endpoint(ENDPOINT).unwrap();
    assert_eq!(h, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    let cn = host_from_endpoint("https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn:443/")
        .unwrap();
    assert_eq!(cn, "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn");
    assert_eq!(
        host_from_endpoint("https://").unwrap_err(),
        TokenError::BadEndpoint
    );
    assert_eq!(
        Login::from_authorization(&b64("AWS:p"), "https://", None, None).unwrap_err(),
        TokenError::BadEndpoint
    );
}

#[test]
fn another_account_keeps_region_and_partition() {
    let own = Login::from_authorization(
        &b64("AWS:p"),
        "https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
        None,
        None,
    )
    .unwrap();
    let other = Registry::Account("210987654321".into());
    let moved = own.for_registry(Some(&other));
    assert_eq!(
        moved.host,
        "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"
    );
    assert_eq!(moved.registry_id(), "210987654321");
    assert_eq!(own.for_registry(None).host, own.host);
    let host =
        Registry::try_from("210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn".to_owned()).unwrap();
    assert_eq!(
        own.for_registry(Some(&host)).host,
        "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"
    );
}

#[test]
fn a_login_lasts_until_the_token_or_its_credentials_expire_whichever_is_first() {
    let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
    let expires = |token: Option<u64>, signer: Option<u64>| {
        let signer = signer.map(|s| RoleCredentials {
            access_key_id: "ASIA".into(),
            secret_access_key: SecretString::from("s".to_owned()),
            session_token: None,
            expires: Some(at(s)),
        });
        Login::from_authorization(&b64("AWS:p"), ENDPOINT, token.map(at), signer.as_ref())
            .unwrap()
            .expires
    };
    // A pull role's one-hour session (or the function's own) ends before the 12-hour token.
    assert_eq!(
        expires(Some(43_200), Some(3600)),
        Some((at(3600), Ends::Credentials))
    );
    // Credentials that outlive the token, or say nothing, leave the token's expiry.
    assert_eq!(
        expires(Some(43_200), Some(50_000)),
        Some((at(43_200), Ends::Token))
    );
    assert_eq!(expires(Some(43_200), None), Some((at(43_200), Ends::Token)));
    assert_eq!(
        expires(None, Some(3600)),
        Some((at(3600), Ends::Credentials))
    );
    assert_eq!(expires(None, None), None);
}
