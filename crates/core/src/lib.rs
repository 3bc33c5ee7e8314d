//! What airflow-ecr-refresher knows, free of the AWS SDK, tokio and Lambda: Airflow's
//! connections and secrets backend settings, ECR registries and logins, the targets of a
//! run, the plan that says what each connection becomes and why, and how a plan is applied
//! through the traits the AWS adapters implement (`Logins`, `Store`, `Clock`).
//!
//! A run flows one way: targets -> logins -> current values -> plan -> paced writes ->
//! report (`run.rs`).

pub mod action;
pub mod aws_error;
pub mod config;
pub mod connection;
pub mod destination;
pub mod expiry;
pub mod failure;
pub mod ids;
pub mod login;
pub mod naming;
pub mod partition;
pub mod plan;
pub mod pull;
pub mod registry;
pub mod report;
pub mod request;
pub mod run;
pub mod schedule;
pub mod store;
pub mod strict_json;
pub mod target;

mod apply;
pub mod pace;
