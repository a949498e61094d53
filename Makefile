.PHONY: install test check lint types format demo bench

install:
	SAVEIT_EXTRAS=test bash -c 'source scripts/_venv.sh'

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

check: install lint types
	.venv/bin/python -m pytest

demo:
	./scripts/demo

bench:
	.venv/bin/python bench/booking.py
