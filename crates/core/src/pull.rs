//! What a connection needs to pull, not just log in: the role whose rights the token
//! carries (`pull_role_arn`) and an image to try (`check_image`). An ECR token carries the
//! pull rights of the principal that fetched it (Amazon ECR User Guide, "Private registry
//! authentication").

use crate::ids::TargetError;
use serde::Deserialize;
use std::fmt;

/// An IAM role to assume for the token: `arn:<partition>:iam::<account>:role/<path/name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct RoleArn {
    arn: String,
    partition_end: usize,
}

/// An image in the connection's registry: `<repository>:<tag>` or
/// `<repository>@sha256:<digest>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ImageRef {
    /// The repository, without a registry host.
    pub repository: String,
    /// The tag or digest.
    pub id: ImageId,
}

/// How an image is named within its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageId {
    /// A tag, such as `latest`.
    Tag(String),
    /// A digest, `sha256:<64 hex digits>`.
    Digest(String),
}

impl RoleArn {
    /// The ARN as text.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The partition named in the ARN (`aws`, `aws-cn`, ...).
    pub fn partition(&self) -> &str {
        &self.arn["arn:".len()..self.partition_end]
    }
}

/// IAM names: `[\w+=,.@-]`, paths of them between slashes (IAM User Guide, "IAM
/// identifiers").
fn is_iam_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

impl TryFrom<String> for RoleArn {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let parse = || {
            let rest = value.strip_prefix("arn:")?;
            let (partition, rest) = rest.split_once(':')?;
            let rest = rest.strip_prefix("iam::")?;
            let (account, resource) = rest.split_once(':')?;
            let path_and_name = resource.strip_prefix("role/")?;
            let valid = partition.starts_with("aws")
                && crate::registry::is_account_id(account)
                && path_and_name.split('/').all(is_iam_name);
            valid.then(|| "arn:".len() + partition.len())
        };
        match parse() {
            Some(partition_end) => Ok(Self {
                arn: value,
                partition_end,
            }),
            None => Err(TargetError::RoleArn(value)),
        }
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// ECR repository names: lower-case components joined by `.`, `_`, `-` and `/` (Amazon ECR
/// API Reference, `CreateRepository`, `repositoryName`).
fn is_repository(s: &str) -> bool {
    (2..=256).contains(&s.len())
        && s.split('/').all(|part| {
            !part.is_empty()
                && part.split(['.', '_', '-']).all(|w| {
                    !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}

/// Docker's tag rule: a word character, then up to 127 of `[A-Za-z0-9_.-]`.
fn is_tag(s: &str) -> bool {
    s.len() <= 128
        && s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

impl TryFrom<String> for ImageRef {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let parsed = if let Some((repository, digest)) = value.split_once('@') {
            let hex = digest.strip_prefix("sha256:");
            let valid = hex.is_some_and(|h| {
                h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            valid.then(|| (repository, ImageId::Digest(digest.to_owned())))
        } else {
            value
                .rsplit_once(':')
                .filter(|(_, tag)| is_tag(tag))
                .map(|(repository, tag)| (repository, ImageId::Tag(tag.to_owned())))
        };
        // A registry host in front names another registry: the check runs in the
        // connection's own, so only the repository belongs here.
        let has_host = |r: &str| r.split('/').next().is_some_and(|h| h.contains(".dkr"));
        match parsed {
            Some((repository, id)) if is_repository(repository) && !has_host(repository) => {
                Ok(Self {
                    repository: repository.to_owned(),
                    id,
                })
            }
            _ => Err(TargetError::ImageRef(value)),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            ImageId::Tag(tag) => write!(f, "{}:{tag}", self.repository),
            ImageId::Digest(digest) => write!(f, "{}@{digest}", self.repository),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_name_a_role_and_their_partition() {
        for (arn, partition) in [
            ("arn:aws:iam::123456789012:role/airflow-workers", "aws"),
            ("arn:aws-cn:iam::123456789012:role/team/ci/puller", "aws-cn"),
            (
                "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f_g-h",
                "aws-us-gov",
            ),
        ] {
            let role = RoleArn::try_from(arn.to_owned()).unwrap();
            assert_eq!((role.as_str(), role.partition()), (arn, partition));
        }
        for bad in [
            "airflow-workers",
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam::12345:role/x",
            "arn:aws:sts::123456789012:assumed-role/x/y",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/has space",
            "arn:nope:iam::123456789012:role/x",
        ] {
            assert_eq!(
                RoleArn::try_from(bad.to_owned()),
                Err(TargetError::RoleArn(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn images_are_a_repository_with_a_tag_or_a_digest() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let by_digest = ImageRef::try_from(format!("team/app@{digest}")).unwrap();
        assert_eq!(by_digest.id, ImageId::Digest(digest.clone()));
        assert_eq!(by_digest.to_string(), format!("team/app@{digest}"));
        let by_tag = ImageRef::try_from("ecr-public/library/nginx:1.27-alpine".to_owned()).unwrap();
        assert_eq!(by_tag.repository, "ecr-public/library/nginx");
        assert_eq!(by_tag.id, ImageId::Tag("1.27-alpine".into()));
        for bad in [
            "app",
            "app:",
            "App:latest",
            "app:-x",
            "app@sha256:abc",
            "app@md5:aaaa",
            "a//b:latest",
            ":latest",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest",
        ] {
            assert_eq!(
                ImageRef::try_from(bad.to_owned()),
                Err(TargetError::ImageRef(bad.into())),
                "{bad}"
            );
        }
    }
}
