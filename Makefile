# The two commands in the README. Both install what they need (Python venvs, moto,
# cargo-lambda, Airflow) into ~/.cache/airflow-ecr-refresher and reuse it next time.
.PHONY: demo test bench
demo:
	scripts/demo.sh
test:
	scripts/test.sh
# Not part of `make test`: this function beside a boto3 handler, against local moto.
bench:
	bench/run.sh
