.PHONY: install test check infra lint types imports format demo bench image

install:
	SAVEIT_EXTRAS=test,deploy bash -c 'source scripts/_venv.sh'

test:
	./scripts/test

lint:
	.venv/bin/ruff format --check src tests bench
	.venv/bin/ruff check src tests bench

types:
	.venv/bin/mypy

format:
	.venv/bin/ruff format src tests bench
	.venv/bin/ruff check --fix src tests bench

imports:
	.venv/bin/lint-imports

check: install lint types imports infra
	.venv/bin/python -m pytest

# hadolint, actionlint, compose validation, Terraform parse/wiring, checkov, promtool
infra:
	deploy/check-infra

image:
	deploy/build-image

demo:
	./scripts/demo

bench:
	.venv/bin/python bench/booking.py
