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
# Not part of `make test`: the release zips (arm64, x86_64) and their checksums in
# target/dist, each zip's binary run against moto (arm64 under qemu); release-verify also
# rebuilds everything from a clean clone elsewhere and requires identical bytes.
.PHONY: release release-verify
release:
	scripts/release.sh
release-verify:
	scripts/release.sh --verify
