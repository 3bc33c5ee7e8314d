use airflow_ecr_refresher::handler::{App, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Clients are built once and shared by every invocation of this process.
    let app = App::from_env().await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(&app, event))).await
}
