//! The real binary as a one-shot command, with a clean environment.

use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_airflow-ecr-refresher");

/// The binary with only what `vars` sets: no profile, no instance metadata.
pub fn command(vars: &[(&str, &str)]) -> Command {
    let home = std::env::temp_dir().join(format!("aer-cli-home-{}", std::process::id()));
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs it to completion.
pub fn run(vars: &[(&str, &str)]) -> Output {
    command(vars).output().expect("run the binary")
}

/// Its stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
