use airflow_ecr_refresher::cli::Cli;
use airflow_ecr_refresher::handler::{App, dispatch};
use airflow_ecr_refresher::logging;
use clap::Parser;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use std::process::ExitCode;

// One thread: the work is I/O-bound, and cross-thread wake-ups cost CPU (measured in bench/).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<ExitCode, Error> {
    // Lambda (and cargo-lambda's emulator) sets the Runtime API address; anywhere else
    // this is the one-shot command line.
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let cli = (!in_lambda).then(Cli::parse);
    logging::init();
    // Clients are built once and shared by every invocation of this process.
    let app = App::from_env().await;
    let Some(cli) = cli else {
        // The payload's text, not a parsed `Value`: a parse keeps the last of two equal keys,
        // and only the text shows there were two. Any valid JSON is accepted here, so every
        // refusal is the handler's own `InvalidRequest`.
        let handler = service_fn(|event: LambdaEvent<Box<RawValue>>| dispatch(&app, event));
        lambda_runtime::run(handler).await?;
        return Ok(ExitCode::SUCCESS);
    };
    match cli.run(&app).await {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("error: {err}");
            Ok(ExitCode::FAILURE)
        }
    }
}
