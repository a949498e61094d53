"""The whole OpenAPI, fuzzed: schemathesis generates requests from the schema the
API publishes — valid ones and invalid ones — and sends them with a staff
(owner) token, rate limits off, to the demo restaurant.

Two properties must hold for every operation:

* no answer is a 5xx (a 500 is always a bug; bad input gets a clear 4xx);
* a request the schema calls valid is never refused as ``VALIDATION_ERROR``:
  the API refuses bodies and parameters only for reasons its schema states
  (business rules — a closed day, a taken slot — are other codes).

``SAVEIT_FUZZ_EXAMPLES`` sets the examples per operation (CI default below);
the figures of a run are printed at the end.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from saveit.api.app import create_app
from saveit.bootstrap import build
from saveit.config import Settings
from saveit.restaurant_setup import apply_spec, parse_document
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock, demo_document

EXAMPLES = int(os.environ.get("SAVEIT_FUZZ_EXAMPLES", "25"))
FIGURES: Counter[str] = Counter()
OWN_TOKEN_ID: list[int] = []


@pytest.fixture
def fuzz_app(settings: Settings, clock: FakeClock) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    container = build(settings.model_copy(update={"ratelimit_enabled": False}), clock=clock)
    apply_spec(container.engine, parse_document(demo_document()))
    app = create_app(container)
    with TestClient(app) as client:
        response = client.post(
            "/v1/restaurants/demo/tokens",
            json={"role": "owner", "name": "fuzz"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 201, response.text
        OWN_TOKEN_ID.append(int(response.json()["id"]))
        yield app, {"Authorization": f"Bearer {response.json()['token']}"}
    OWN_TOKEN_ID.clear()


def _fuzz(app: FastAPI, staff: dict[str, str]) -> list[str]:
    """Every operation, positive then negative examples; returns the failures."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        FIGURES["operations"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
                # No shrinking: the API's state moves on between calls, so a replayed
                # failure need not repeat; the first failing request is reported as is.
                phases=[Phase.explicit, Phase.generate],
            )
            def run(case: Any) -> None:
                _check(case, staff)

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                FIGURES["no-negative-cases"] += 1
            except Exception as exc:  # an assertion, or hypothesis's group of them
                failures.append(f"{operation.method.upper()} {operation.path}: {_first_line(exc)}")
    return failures


def _check(case: Any, staff: dict[str, str]) -> None:
    mode = case.meta.generation.mode
    if OWN_TOKEN_ID and str((case.path_parameters or {}).get("token_id")) == str(OWN_TOKEN_ID[0]):
        case.path_parameters["token_id"] = OWN_TOKEN_ID[0] + 1  # revoking our own ends the run
    if "slug" in (case.path_parameters or {}) and not case.meta.is_negative_at(
        ParameterLocation.PATH
    ):
        case.path_parameters["slug"] = "demo"  # reach past authorisation to the handler
    response = case.call(headers={**(case.headers or {}), **staff})
    FIGURES[f"cases:{mode.value}"] += 1
    FIGURES[f"status:{response.status_code // 100}xx"] += 1
    code = _problem_code(response)
    FIGURES[f"{case.method} {case.operation.path} {mode.value} {response.status_code} {code}"] += 1
    operation = f"{case.method} {case.operation.path}"
    assert response.status_code < 500, (
        f"{operation} answered {response.status_code}: {response.text}"
    )
    if mode is GenerationMode.POSITIVE:
        assert code != "VALIDATION_ERROR", (
            f"{operation} refused a request its schema allows: {response.text}"
        )


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _first_line(exc.exceptions[0])
    return (str(exc).splitlines() or [type(exc).__name__])[0][:400]


def _problem_code(response: Any) -> str:
    if response.status_code < 400:
        return ""
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


def test_no_5xx_and_no_refusal_the_schema_does_not_state(
    fuzz_app: tuple[FastAPI, dict[str, str]],
) -> None:
    app, staff = fuzz_app
    failures = _fuzz(app, staff)
    print("\nfuzz figures:", dict(sorted(FIGURES.items())))
    print("\n".join(["fuzz failures:", *failures]))
    assert not failures, "\n".join(failures)
