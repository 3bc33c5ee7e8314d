//! The registry a connection logs in to. The ECR password is only ever written for an
//! Amazon ECR private registry: a 12-digit account id, or a host of one of the forms ECR
//! documents (Amazon ECR User Guide, "Private registry concepts" and "Dual-stack
//! endpoints"), matched label by label, never by substring.

use crate::ids::Region;
use crate::ids::TargetError;
use crate::partition;
use serde::Deserialize;
use std::fmt;

/// A registry given by the user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Registry {
    /// Another account's registry in the target's region: `210987654321`.
    Account(String),
    /// A full registry host, such as `210987654321.dkr.ecr.eu-west-1.amazonaws.com`.
    Host(RegistryHost),
}

/// An ECR registry host and the region it names (its token must come from there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryHost {
    host: String,
    region: Region,
}

/// The labels between the account and the region, and where each form's domain comes from.
const FORMS: &[(&str, DomainKind)] = &[
    ("dkr.ecr", DomainKind::Standard),
    ("dkr.ecr-fips", DomainKind::Standard),
    ("dkr-ecr", DomainKind::DualStack),
    ("dkr-ecr-fips", DomainKind::DualStack),
];

#[derive(Debug, Clone, Copy)]
enum DomainKind {
    Standard,
    DualStack,
}

/// ECR Public: another API (`ecr-public`), and public images pull without logging in.
const ECR_PUBLIC: &str = "public.ecr.aws";

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl RegistryHost {
    /// Parses `<account>.<form>.<region>.<domain>`, where the domain must be the one the
    /// region's partition uses for that form.
    fn parse(host: &str) -> Option<Self> {
        let (account, rest) = host.split_once('.')?;
        if !is_account_id(account) {
            return None;
        }
        FORMS.iter().find_map(|(form, kind)| {
            let rest = rest.strip_prefix(form)?.strip_prefix('.')?;
            let (region, domain) = rest.split_once('.')?;
            let region = Region::try_from(region.to_owned()).ok()?;
            let partition = partition::of(region.as_str());
            let expected = match kind {
                DomainKind::Standard => Some(partition.dns_suffix),
                DomainKind::DualStack => partition.registry_dual_stack_suffix,
            };
            (Some(domain) == expected).then(|| Self {
                host: host.to_owned(),
                region,
            })
        })
    }

    /// The host of an existing connection, if it is an ECR registry: as Docker would
    /// reach it, so a scheme, a trailing `/` and a port are set aside (the written host
    /// is bare).
    pub fn of_existing(host: &str) -> Option<Self> {
        let host = host.trim().to_ascii_lowercase();
        let bare = ["https://", "http://"]
            .iter()
            .find_map(|scheme| host.strip_prefix(scheme))
            .unwrap_or(&host);
        let bare = bare.strip_suffix('/').unwrap_or(bare);
        let bare = match bare.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                host
            }
            _ => bare,
        };
        Self::parse(bare)
    }

    /// The host as text.
    pub fn as_str(&self) -> &str {
        &self.host
    }

    /// The registry's account id, its first label.
    pub fn account(&self) -> &str {
        self.host.split('.').next().unwrap_or_default()
    }

    /// The region the host names, whose token it takes.
    pub fn region(&self) -> &Region {
        &self.region
    }
}

impl TryFrom<String> for Registry {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if is_account_id(&value) {
            return Ok(Self::Account(value));
        }
        // A pasted `https://host/` names the same registry; Docker wants the bare host.
        let bare = value.strip_prefix("https://").unwrap_or(&value);
        let bare = bare.strip_suffix('/').unwrap_or(bare).to_ascii_lowercase();
        if bare == ECR_PUBLIC || bare.starts_with("public.ecr.aws/") {
            return Err(TargetError::PublicRegistry(value));
        }
        RegistryHost::parse(&bare)
            .map(Self::Host)
            .ok_or(TargetError::Registry(value))
    }
}

impl Registry {
    /// The region an ECR host names; an account id names none.
    pub fn host_region(&self) -> Option<&Region> {
        match self {
            Self::Account(_) => None,
            Self::Host(host) => Some(host.region()),
        }
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Account(id) => f.write_str(id),
            Self::Host(host) => f.write_str(host.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Registry, TargetError> {
        Registry::try_from(s.to_owned())
    }

    #[test]
    fn every_documented_host_form_is_accepted_with_its_region() {
        for (host, region) in [
            ("210987654321.dkr.ecr.eu-west-1.amazonaws.com", "eu-west-1"),
            (
                "210987654321.dkr.ecr-fips.us-east-2.amazonaws.com",
                "us-east-2",
            ),
            ("210987654321.dkr-ecr.ap-south-1.on.aws", "ap-south-1"),
            ("210987654321.dkr-ecr-fips.us-west-2.on.aws", "us-west-2"),
            (
                "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn",
                "cn-north-1",
            ),
            (
                "210987654321.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn",
                "cn-northwest-1",
            ),
            (
                "210987654321.dkr.ecr.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
            ),
            (
                "210987654321.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                "eusc-de-east-1",
            ),
            (
                "210987654321.dkr.ecr.us-iso-east-1.c2s.ic.gov",
                "us-iso-east-1",
            ),
        ] {
            let registry = parse(host).unwrap_or_else(|e| panic!("{host}: {e}"));
            assert_eq!(registry.to_string(), host);
            assert_eq!(registry.host_region().map(Region::as_str), Some(region));
        }
        let pasted = parse("https://210987654321.DKR.ECR.eu-west-1.amazonaws.com/").unwrap();
        assert_eq!(
            pasted.to_string(),
            "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            parse("210987654321").unwrap(),
            Registry::Account("210987654321".into())
        );
    }

    #[test]
    fn anything_else_is_refused_naming_the_value() {
        for bad in [
            "evil.example.com",
            "docker.io",
            "ghcr.io",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
            "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn",
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com",
            "123456789012.dkr-ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.on.aws",
            "123456789012.dkr-ecr.eusc-de-east-1.on.aws",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.US-EAST-1x.amazonaws.com",
            "123456789012.dkr.ecr..amazonaws.com",
            "https://h.example.com/path",
            "12345",
            "",
        ] {
            assert_eq!(parse(bad), Err(TargetError::Registry(bad.into())), "{bad}");
            if !bad.is_empty() {
                assert!(parse(bad).unwrap_err().to_string().contains(bad));
            }
        }
    }

    #[test]
    fn an_existing_hosts_registry_is_found_as_docker_would_reach_it() {
        for existing in [
            "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
            " https://210987654321.DKR.ECR.eu-west-1.amazonaws.com/",
            "210987654321.dkr.ecr.eu-west-1.amazonaws.com:443",
            "http://210987654321.dkr.ecr.eu-west-1.amazonaws.com:443/",
        ] {
            let host = RegistryHost::of_existing(existing).unwrap();
            assert_eq!(
                host.as_str(),
                "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
            );
            assert_eq!(
                (host.account(), host.region().as_str()),
                ("210987654321", "eu-west-1")
            );
        }
        let fips = RegistryHost::of_existing("210987654321.dkr-ecr-fips.us-west-2.on.aws").unwrap();
        assert_eq!(fips.region().as_str(), "us-west-2");
        for other in [
            "old.example.com",
            "public.ecr.aws",
            "210987654321",
            "",
            "h:5000",
        ] {
            assert!(RegistryHost::of_existing(other).is_none(), "{other}");
        }
    }

    #[test]
    fn ecr_public_is_refused_with_its_own_reason() {
        for public in [
            "public.ecr.aws",
            "https://public.ecr.aws/",
            "public.ecr.aws/nginx",
        ] {
            let err = parse(public).unwrap_err();
            assert_eq!(err, TargetError::PublicRegistry(public.into()));
            assert!(err.to_string().contains("without logging in"), "{err}");
        }
    }
}
