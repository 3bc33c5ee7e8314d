//! Where an existing connection logs in after a refresh. One whose host is already an
//! Amazon ECR registry keeps it, with the token from that registry's region: refreshed by
//! conn id alone, a connection to another account's registry in another region is never
//! moved to the caller's own. The configuration decides where it says so: a `registry`
//! host is where the connection logs in (how one is moved on purpose); a `registry`
//! account keeps an existing host of that account; a `region` keeps an existing host in
//! that region. A registry that cannot be kept (another partition, or another region than
//! the one configured) is refused, naming both hosts. A host that is no ECR registry is
//! replaced by the configured one. Pure: no I/O.

use crate::connection::Aliases;
use crate::login::RunLogins;
use crate::registry::{Registry, RegistryHost};
use crate::store::Current;
use crate::target::Target;
use secrecy::ExposeSecret;

/// Why an existing connection's registry can neither be kept nor replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostConflict {
    /// The existing registry is in another region than the one configured.
    #[error(
        "the connection logs in to {existing}, an ECR registry in {existing_region}, but its \
         region is set to {region}, whose token does not work there, so it was left untouched \
         rather than moved to {replacement}: drop region (or set it to {existing_region}) to \
         keep its registry, or set registry to move it"
    )]
    Region {
        /// The existing registry host.
        existing: String,
        /// The region of the existing registry.
        existing_region: String,
        /// The region configured for the connection.
        region: String,
        /// The host the refresh would have written instead.
        replacement: String,
    },
    /// The existing registry is in a partition where the function cannot get a token.
    #[error(
        "the connection logs in to {existing}, an ECR registry in the {partition} partition, \
         where the function (in {function_partition}) cannot get a token, so it was left \
         untouched rather than moved to {replacement}: refresh it from a copy of the function \
         deployed in {partition}, or set registry to move it"
    )]
    Partition {
        /// The existing registry host.
        existing: String,
        /// The partition of the existing registry.
        partition: &'static str,
        /// The partition the function runs in.
        function_partition: &'static str,
        /// The host the refresh would have written instead.
        replacement: String,
    },
}

/// A target as it will be refreshed, or as configured with why it cannot be.
pub(crate) type Settled = Result<Target, Box<(Target, HostConflict)>>;

/// Each target as it will be refreshed, given what the read found, or why it may not be
/// (with the target as configured). `logins` holds the configured targets' logins, so a
/// refusal names the host it would have written.
pub(crate) fn settle_all<'a, E: 'a>(
    targets: &[Target],
    current: impl IntoIterator<Item = &'a Result<Current, E>>,
    aliases: &Aliases,
    logins: &RunLogins,
) -> Vec<Settled> {
    targets
        .iter()
        .zip(current)
        .map(|(target, current)| {
            let existing = current.as_ref().ok().and_then(|c| ecr_host(c, aliases));
            settle(target, existing, || replacement(target, logins))
                .map_err(|conflict| Box::new((target.clone(), conflict)))
        })
        .collect()
}

/// The existing connection's host, when Airflow would read one and it is an ECR registry.
fn ecr_host(current: &Current, aliases: &Aliases) -> Option<RegistryHost> {
    let Current::Text { value, .. } = current else {
        return None;
    };
    let host = aliases.view(value.expose_secret()).ok()?.host?;
    RegistryHost::of_existing(&host)
}

/// Where one target logs in, given the ECR host its existing connection has (`existing`):
/// kept, replaced by the configured host (`replacement`, asked only for a message), or
/// refused.
pub(crate) fn settle(
    target: &Target,
    existing: Option<RegistryHost>,
    replacement: impl FnOnce() -> String,
) -> Result<Target, HostConflict> {
    let Some(existing) = existing else {
        return Ok(target.clone());
    };
    let keep = match &target.registry {
        Some(Registry::Host(_)) => false,
        Some(Registry::Account(account)) => {
            !target.region_given && existing.account() == account.as_str()
        }
        None => true,
    };
    if !keep {
        return Ok(target.clone());
    }
    if target.region_given && existing.region() != &target.region {
        return Err(HostConflict::Region {
            existing: existing.as_str().to_owned(),
            existing_region: existing.region().to_string(),
            region: target.region.to_string(),
            replacement: replacement(),
        });
    }
    // The target's region is in the function's partition (`TargetSpec::resolve`).
    let (partition, function_partition) =
        (existing.region().partition(), target.region.partition());
    if partition != function_partition {
        return Err(HostConflict::Partition {
            existing: existing.as_str().to_owned(),
            partition,
            function_partition,
            replacement: replacement(),
        });
    }
    Ok(Target {
        region: existing.region().clone(),
        registry: Some(Registry::Host(existing)),
        ..target.clone()
    })
}

/// The host the configuration alone would have written.
fn replacement(target: &Target, logins: &RunLogins) -> String {
    match logins.get(target) {
        Ok(login) => login.host,
        Err(_) => match &target.registry {
            Some(registry) => format!("{registry}'s registry in {}", target.region),
            None => format!("the function's own registry in {}", target.region),
        },
    }
}

#[cfg(test)]
mod tests;
