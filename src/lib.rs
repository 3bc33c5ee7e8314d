//! Keeps Apache Airflow's Docker connections to Amazon ECR logged in: one ECR token per
//! region, written into each connection's secret in AWS Secrets Manager.

pub mod app;
pub mod apply;
pub mod aws;
pub mod aws_error;
pub mod backend;
pub mod cli;
pub mod config;
pub mod connection;
pub mod ecr;
pub mod failure;
pub mod handler;
pub mod ids;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod naming;
pub mod pace;
pub mod parameters;
pub mod partition;
pub mod plan;
pub mod pull;
pub mod refresh;
pub mod registry;
pub mod report;
pub mod request;
pub mod roles;
pub mod secrets;
pub mod store;
pub mod target;
pub mod token;
pub mod tokens;
