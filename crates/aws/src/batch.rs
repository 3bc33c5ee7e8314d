//! Batch reads under a store's read quota: names a call, calls a second; and what a read
//! says of when its value was written.

use refresher_core::aws_error::AwsError;
use refresher_core::pace;
use refresher_core::store::Current;

/// A read's timestamp (when the value was written) as a `SystemTime`; `None` if it is out
/// of its range.
pub(crate) fn system_time(at: &aws_smithy_types::DateTime) -> Option<std::time::SystemTime> {
    std::time::SystemTime::try_from(*at).ok()
}

/// How a store's batch reads go out: names a call, calls a second.
#[derive(Debug, Clone, Copy)]
pub struct ReadQuota {
    /// The most names one call may read.
    pub batch: usize,
    /// The calls a second the store allows.
    pub calls_per_second: usize,
}

/// Reads `names` in calls of at most `quota.batch` names, a second's worth of calls at once
/// and each further second's worth a second later: one result per name, in the order asked.
pub async fn read_in_batches<'a, F, Fut>(
    names: &'a [String],
    quota: ReadQuota,
    read: F,
) -> Vec<Result<Current, AwsError>>
where
    F: Fn(&'a [String]) -> Fut,
    Fut: std::future::Future<Output = Vec<Result<Current, AwsError>>>,
{
    let start = tokio::time::Instant::now();
    let read = &read;
    let calls = names
        .chunks(quota.batch.max(1))
        .enumerate()
        .map(|(i, chunk)| async move {
            tokio::time::sleep_until(start + pace::wave(i, quota.calls_per_second)).await;
            read(chunk).await
        });
    let batches = futures::future::join_all(calls).await;
    batches.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn batch_reads_go_out_a_seconds_quota_at_once_then_one_quota_a_second() {
        let names: Vec<String> = (0..95).map(|i| format!("n{i}")).collect();
        let start = tokio::time::Instant::now();
        let calls = Mutex::new(Vec::new());
        let quota = ReadQuota {
            batch: 10,
            calls_per_second: 4,
        };
        let read = read_in_batches(&names, quota, |chunk| {
            let calls = &calls;
            async move {
                calls.lock().unwrap().push(start.elapsed());
                chunk.iter().map(|_| Ok(Current::Missing)).collect()
            }
        })
        .await;
        assert_eq!(read.len(), 95, "one result per name");
        let mut seconds: Vec<u64> = calls.lock().unwrap().iter().map(|d| d.as_secs()).collect();
        seconds.sort_unstable();
        assert_eq!(seconds, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
        assert!(start.elapsed() < Duration::from_millis(2_500));
    }
}
