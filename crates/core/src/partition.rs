//! AWS partitions: which one a region belongs to, and its DNS names. One role's credentials
//! never work across partitions, and each partition names its ECR registries differently.
//!
//! The table is the AWS SDK's own partition data (`partitions.json`, embedded in every
//! `aws-sdk-*` crate but not exported), reduced to what this function needs; a unit test
//! checks it against the SDK's public endpoint resolver, so an SDK update that moves a
//! region or a suffix fails the build instead of this function.

use regex_lite::Regex;
use std::sync::OnceLock;

/// An AWS partition: its regions and the DNS names of its registries.
#[derive(Debug, PartialEq, Eq)]
pub struct Partition {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub id: &'static str,
    region_regex: &'static str,
    /// Regions named outright in the SDK's data (they win over the regex).
    regions: &'static [&'static str],
    /// `amazonaws.com`: API hosts and private registries (`<acct>.dkr.ecr.<region>.<this>`).
    pub dns_suffix: &'static str,
    /// Dual-stack (IPv4 and IPv6) registry hosts: `<acct>.dkr-ecr.<region>.<this>`, where
    /// ECR offers them (Amazon ECR User Guide, "Dual-stack endpoints").
    pub registry_dual_stack_suffix: Option<&'static str>,
}

/// In the SDK's order: a region listed outright wins, then the first matching regex, then
/// `aws` (the SDK's default for a region it does not know).
pub const PARTITIONS: &[Partition] = &[
    Partition {
        id: "aws",
        region_regex: r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$",
        regions: &[
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
        dns_suffix: "amazonaws.com",
        registry_dual_stack_suffix: Some("on.aws"),
    },
    Partition {
        id: "aws-cn",
        region_regex: r"^cn\-\w+\-\d+$",
        regions: &["cn-north-1", "cn-northwest-1"],
        dns_suffix: "amazonaws.com.cn",
        registry_dual_stack_suffix: Some("on.amazonwebservices.com.cn"),
    },
    Partition {
        id: "aws-eusc",
        region_regex: r"^eusc\-(de)\-\w+\-\d+$",
        regions: &["eusc-de-east-1"],
        dns_suffix: "amazonaws.eu",
        registry_dual_stack_suffix: None,
    },
    Partition {
        id: "aws-iso",
        region_regex: r"^us\-iso\-\w+\-\d+$",
        regions: &["us-iso-east-1", "us-iso-west-1"],
        dns_suffix: "c2s.ic.gov",
        registry_dual_stack_suffix: None,
    },
    Partition {
        id: "aws-iso-b",
        region_regex: r"^us\-isob\-\w+\-\d+$",
        regions: &["us-isob-east-1", "us-isob-west-1"],
        dns_suffix: "sc2s.sgov.gov",
        registry_dual_stack_suffix: None,
    },
    Partition {
        id: "aws-iso-e",
        region_regex: r"^eu\-isoe\-\w+\-\d+$",
        regions: &["eu-isoe-west-1"],
        dns_suffix: "cloud.adc-e.uk",
        registry_dual_stack_suffix: None,
    },
    Partition {
        id: "aws-iso-f",
        region_regex: r"^us\-isof\-\w+\-\d+$",
        regions: &["us-isof-east-1", "us-isof-south-1"],
        dns_suffix: "csp.hci.ic.gov",
        registry_dual_stack_suffix: None,
    },
    Partition {
        id: "aws-us-gov",
        region_regex: r"^us\-gov\-\w+\-\d+$",
        regions: &["us-gov-east-1", "us-gov-west-1"],
        dns_suffix: "amazonaws.com",
        registry_dual_stack_suffix: Some("on.aws"),
    },
];

fn regexes() -> &'static [Regex] {
    static COMPILED: OnceLock<Vec<Regex>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        PARTITIONS
            .iter()
            // The patterns are constants, checked by `every_partition_regex_compiles`.
            .filter_map(|p| Regex::new(p.region_regex).ok())
            .collect()
    })
}

/// The partition a region belongs to, by the SDK's rules.
pub fn of(region: &str) -> &'static Partition {
    if let Some(p) = PARTITIONS.iter().find(|p| p.regions.contains(&region)) {
        return p;
    }
    PARTITIONS
        .iter()
        .zip(regexes())
        .find(|(_, re)| re.is_match(region))
        .map_or(&PARTITIONS[0], |(p, _)| p)
}

/// Every region the SDK knows by name, for tests and error messages.
pub fn known_regions() -> impl Iterator<Item = &'static str> {
    PARTITIONS.iter().flat_map(|p| p.regions.iter().copied())
}

/// A region name: lower-case words and a number (`us-east-1`, `eusc-de-east-1`,
/// `us-isob-east-1`). Every region in the SDK's data has this shape, and so will new ones.
pub fn is_region_name(s: &str) -> bool {
    let mut parts = s.split('-');
    let Some(number) = parts.next_back() else {
        return false;
    };
    let words: Vec<&str> = parts.collect();
    words.len() >= 2
        && words[0].len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_regex_compiles() {
        assert_eq!(regexes().len(), PARTITIONS.len());
    }

    #[test]
    fn regions_land_in_their_partitions() {
        assert_eq!(of("us-east-1").id, "aws");
        assert_eq!(of("cn-north-1").id, "aws-cn");
        assert_eq!(of("us-gov-west-1").id, "aws-us-gov");
        assert_eq!(of("eusc-de-east-1").id, "aws-eusc");
        assert_eq!(of("us-isob-east-1").id, "aws-iso-b");
        assert_eq!(of("ap-future-3").id, "aws", "by regex");
        assert_eq!(of("xx-nowhere-1").id, "aws", "the SDK's default");
    }

    #[test]
    fn every_known_region_has_a_region_name() {
        for region in known_regions() {
            assert!(is_region_name(region), "{region}");
        }
        for bad in [
            "",
            "nowhere",
            "US-EAST-1",
            "us-east",
            "useast1",
            "us-east-1a",
            "eu_west_1",
            "us-east-123",
            "-east-1",
            "e-west-1",
            "us--1",
            "aws-global",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }
}
