# shellcheck shell=bash
# Sourced by scripts/lint-template.sh and scripts/sam-build.sh, not run.
#
# offline_aws_env     exports a region, fake credentials and an unreachable endpoint,
#                     so a tool that tried to call AWS fails here instead of reaching it.

offline_aws_env() {
  unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
  export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  export AWS_EC2_METADATA_DISABLED=true
  # Nothing listens on port 9 here: any AWS API call fails at once, never leaves the machine.
  export AWS_ENDPOINT_URL=http://127.0.0.1:9
  export SAM_CLI_TELEMETRY=0
  # checkov: never contact Prisma Cloud for its mappings and guidelines.
  export BC_SKIP_MAPPING=TRUE
}
