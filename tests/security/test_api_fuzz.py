"""The whole OpenAPI, fuzzed: schemathesis generates requests from the schema the
API publishes — valid ones and invalid ones — and sends them with a staff
(owner) token, rate limits off, to the demo restaurant.

Two properties must hold for every operation:

* no answer is a 5xx (a 500 is always a bug; bad input gets a clear 4xx);
* a request the schema calls valid is never refused as ``VALIDATION_ERROR``:
  the API refuses bodies and parameters only for reasons its schema states
  (business rules — a closed day, a taken slot — are other codes).

The second property does not hold yet for the operations in
``STRICTER_THAN_SCHEMA``: each refuses some schema-valid input for a reason its
published schema does not state (a date range, a cross-field rule such as "date
and time go together", a table-driven check). Making each schema state its rule
is open work; the list may only shrink: a new operation refusing what its
schema allows fails the test (remove an operation once its schema says it all).

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

STRICTER_THAN_SCHEMA = frozenset(
    {
        "DELETE /v1/restaurants/{slug}/special-dates/{day}",  # dates 2000-2199
        "GET /v1/restaurants/{slug}/availability",  # dates 2000-2199
        "GET /v1/restaurants/{slug}/reservations",  # dates 2000-2199
        "PATCH /v1/reservations/{code}",  # dates 2000-2199; date and time together
        "PATCH /v1/restaurants/{slug}",  # IANA zone names, party sizes within bounds
        "PATCH /v1/waitlist/{code}",  # dates 2000-2199
        "POST /v1/restaurants",  # NUL characters, document rules
        "POST /v1/restaurants/{slug}/reservations",  # start, or date and time
        "POST /v1/restaurants/{slug}/tokens",  # ttl_days at most the configured maximum
        "POST /v1/restaurants/{slug}/walk-ins",  # party size bounds
        "POST /v1/restaurants/{slug}/waitlist",  # start, or date and time
        "PUT /v1/restaurants/{slug}/channels/{channel}",  # fields per channel
        "PUT /v1/restaurants/{slug}/combinations/{code}",  # two different tables
        "PUT /v1/restaurants/{slug}/rules",  # slot and duration arithmetic
        "PUT /v1/restaurants/{slug}/services",  # local HH:MM times
        "PUT /v1/restaurants/{slug}/special-dates/{day}",  # hours or closed
        "PUT /v1/restaurants/{slug}/tables/{code}",  # capacity bounds
    }
)


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
        staff = {"Authorization": f"Bearer {response.json()['token']}"}
        listed = client.get("/v1/restaurants/demo/tokens", headers=staff).json()
        rows = listed["tokens"] if isinstance(listed, dict) else listed
        OWN_TOKEN_ID.extend(int(row["id"]) for row in rows if row["name"] == "fuzz")
        yield app, staff
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
                failures.append(_first_line(exc))
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
            f"stricter {operation} refused a request its schema allows: {response.text}"
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


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 65 operations x 2 modes x 25 examples: minutes on a busy machine
def test_no_5xx_and_no_refusal_the_schema_does_not_state(
    fuzz_app: tuple[FastAPI, dict[str, str]],
) -> None:
    """Fails before the fix: ids beyond int64 answered 500 on guest notify-channels,
    conversation messages and handoff (and on token revocation, guest export and
    erasure when they were added)."""
    app, staff = fuzz_app
    failures = _fuzz(app, staff)
    print("\nfuzz figures:", dict(sorted(FIGURES.items())))
    print("\n".join(["fuzz failures:", *failures]))
    server_errors = [f for f in failures if f.startswith("5xx ")]
    assert not server_errors, "\n".join(server_errors)
    stricter = {_operation_of(f) for f in failures if f.startswith("stricter ")}
    others = [f for f in failures if not f.startswith(("5xx ", "stricter "))]
    assert not others, "\n".join(others)
    assert stricter <= STRICTER_THAN_SCHEMA, (
        "refuses what its schema allows (state the rule in the schema): "
        + ", ".join(sorted(stricter - STRICTER_THAN_SCHEMA))
    )


def _operation_of(failure: str) -> str:
    method, path = failure.split(" ")[1:3]
    return f"{method} {path}"
