//! What airflow-ecr-refresher knows, free of the AWS SDK, tokio and Lambda: Airflow's
//! connections and secrets backend settings, ECR registries and logins, the targets of a
//! run, the plan that says what each connection becomes and why, and how a plan is applied
//! through the traits the AWS adapters implement (`Logins`, `Store`, `LoginCheck`, `Clock`).
//!
//! A run flows one way: targets -> logins -> current values -> plan -> paced writes ->
//! report (`run.rs`).

#![warn(missing_docs)]

pub mod aws_error;
pub mod config;
pub mod connection;
pub mod destination;
pub mod failure;
pub mod ids;
pub mod login;
pub mod login_check;
pub mod naming;
pub mod pace;
pub mod partition;
pub mod pull;
pub mod report;
pub mod request;
pub mod run;
pub mod store;
pub mod target;

mod action;
mod apply;
mod expiry;
mod plan;
mod registry;
mod schedule;
mod strict_json;
