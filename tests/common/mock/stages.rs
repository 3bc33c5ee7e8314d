//! The mock store's version labels as Secrets Manager answers them: `DescribeSecret`'s
//! `VersionIdsToStages`, and `UpdateSecretVersionStage` moving `AWSCURRENT`.

use super::{Slot, Store, Stored, json_response};
use aws_smithy_mocks::{Rule, mock};

impl Store {
    /// `DescribeSecret`, answering each version's labels (API Reference, DescribeSecret,
    /// `VersionIdsToStages`).
    pub fn describe_rule(&self) -> Rule {
        let (store, asked) = (self.clone(), Slot::<String>::default());
        let seen = asked.clone();
        mock!(aws_sdk_secretsmanager::Client::describe_secret)
            .match_requests(move |req| seen.set(req.secret_id().unwrap_or_default().to_owned()))
            .sequence()
            .output(move || {
                let name = asked.get();
                let versions = store.versions.lock().unwrap().get(&name).cloned();
                let mut stages = std::collections::HashMap::new();
                if let Some(v) = versions {
                    for (id, label) in [(v.current, "AWSCURRENT"), (v.previous, "AWSPREVIOUS")] {
                        if let Some(id) = id {
                            stages.insert(id, vec![label.to_owned()]);
                        }
                    }
                }
                // A secret scheduled for deletion says when (API Reference, DescribeSecret,
                // DeletedDate).
                let deleted = matches!(store.get(&name), Some(Stored::Deleted))
                    .then(|| aws_smithy_types::DateTime::from_secs(1_800_000_000));
                aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput::builder()
                    .name(name)
                    .set_version_ids_to_stages(Some(stages))
                    .set_deleted_date(deleted)
                    .build()
            })
            .repeatedly()
            .build()
    }

    /// `UpdateSecretVersionStage` moving AWSCURRENT, refused unless `RemoveFromVersionId`
    /// holds it (API Reference, UpdateSecretVersionStage).
    pub fn stage_rule(&self) -> Rule {
        let (store, asked) = (self.clone(), Slot::<(String, String, String)>::default());
        let seen = asked.clone();
        mock!(aws_sdk_secretsmanager::Client::update_secret_version_stage)
            .match_requests(move |req| {
                seen.set((
                    req.secret_id().unwrap_or_default().to_owned(),
                    req.move_to_version_id().unwrap_or_default().to_owned(),
                    req.remove_from_version_id().unwrap_or_default().to_owned(),
                ))
            })
            .sequence()
            .http_response(move || {
                let (name, to, from) = asked.get();
                let mut all = store.versions.lock().unwrap();
                let versions = all.entry(name.clone()).or_default();
                let Some(value) = versions.values.get(&to).cloned() else {
                    return json_response(400, &serde_json::json!({"__type": "ResourceNotFoundException"}));
                };
                if versions.current.as_deref() != Some(from.as_str()) {
                    return json_response(400, &serde_json::json!({"__type": "InvalidParameterException",
                        "message": "The parameter RemoveFromVersionId doesn't match the version holding the label."}));
                }
                versions.current = Some(to);
                versions.previous = Some(from);
                store.lock().insert(name.clone(), Stored::Text(value));
                json_response(200, &serde_json::json!({"ARN": "arn", "Name": name}))
            })
            .repeatedly()
            .build()
    }
}
