//! What may cut a run short: the invocation's deadline, and a request to stop the process
//! (`SIGTERM` from Lambda's shutdown, a container runtime or a CI job's timeout; `SIGINT`
//! from a terminal). Either way the caller still gets a report.

use refresher_core::report::StopReason;
use std::future::Future;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// Time kept back before the Lambda deadline to answer instead of being killed.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// Runs `work` to completion, or until `left` runs out or the process is asked to stop;
/// `kept_back` is how long before the Lambda timeout `left` ends, for the report.
pub async fn until_stopped<F: Future>(
    work: F,
    left: Option<Duration>,
    kept_back: Duration,
) -> Result<F::Output, StopReason> {
    let deadline = async {
        match left {
            Some(left) => tokio::time::sleep(left).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        output = work => Ok(output),
        () = deadline => Err(StopReason::Deadline(kept_back)),
        signal = stop_signal() => Err(StopReason::Signal(signal)),
    }
}

/// The first of `SIGTERM` and `SIGINT` to arrive. A signal that cannot be listened for
/// (no signal driver) is never awaited: the deadline and the SDK's timeouts still hold.
async fn stop_signal() -> &'static str {
    let wait = |kind: SignalKind, name: &'static str| async move {
        match signal(kind) {
            Ok(mut stream) => {
                stream.recv().await;
                name
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot listen for {name}");
                std::future::pending().await
            }
        }
    };
    tokio::select! {
        name = wait(SignalKind::terminate(), "SIGTERM") => name,
        name = wait(SignalKind::interrupt(), "SIGINT") => name,
    }
}
