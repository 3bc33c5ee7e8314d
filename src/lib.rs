//! The one entry of airflow-ecr-refresher, for Lambda and the command line: build the
//! AWS adapters once (`app.rs`), run a request to completion or to the deadline
//! (`stop.rs`), answer the Lambda runtime (`handler.rs`) and
//! CloudFormation's deploy-time requests (`deploy.rs`, `custom_resource.rs`) or the shell (`cli.rs`), with the
//! run's metrics (`metrics.rs`) and logs that never carry a secret (`logging.rs`). What a
//! run does is the core's (`refresher-core`); how it reaches AWS is `refresher-aws`'s.

pub mod app;
pub mod cli;
pub mod custom_resource;
pub mod deploy;
pub mod handler;
pub mod logging;
pub mod metrics;
pub mod stop;
