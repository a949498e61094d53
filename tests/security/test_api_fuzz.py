"""The whole OpenAPI, fuzzed: schemathesis generates requests from the schema the
API publishes — valid ones and invalid ones — and sends them with a staff
(owner) token, rate limits off, to the demo restaurant.

Two properties must hold for every operation:

* no answer is a 5xx (a 500 is always a bug; bad input gets a clear 4xx);
* a request the schema calls valid is never refused as ``VALIDATION_ERROR``
  for a reason the schema does not state (business rules — a closed day, a
  taken slot — are other codes).

The requests carry an owner's token, and the admin's for the one admin-only
operation (creating a restaurant), so bodies reach their checks. Providers are
closed loopback ports here, so an operation that must ask one (a channel's
proof) answers ``PROVIDER_UNAVAILABLE`` 503, as it should; no other 5xx passes.

Most rules are JSON Schema keywords (patterns, bounds, enumerations, ``anyOf``
for either-or bodies), which the generator keeps to. A few cannot be (one field
compared with another, a phone number the numbering plan allows, a table that
must exist): the schema lists those in ``x-rules`` (see ``saveit.admin.fields``),
each as the text its refusal carries, and a refusal that quotes one of them is
counted as documented rather than failed. Every other ``VALIDATION_ERROR`` to a
schema-valid request fails the test.

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

from saveit.admin.fields import RULES
from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import build
from saveit.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock, demo_document

EXAMPLES = int(os.environ.get("SAVEIT_FUZZ_EXAMPLES", "25"))
FIGURES: Counter[str] = Counter()
OWN_TOKEN_ID: list[int] = []
RULES_OF: dict[str, frozenset[str]] = {}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ADMIN_ONLY = frozenset({"POST /v1/restaurants"})


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


def documented_rules(document: dict[str, Any]) -> dict[str, frozenset[str]]:
    """``"METHOD /path"`` -> the ``x-rules`` texts its request body's schema states, and
    those the operation states of its query parameters taken together."""
    components = document.get("components", {}).get("schemas", {})

    def walk(node: Any, seen: frozenset[str]) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                found |= walk(components.get(ref.rsplit("/", 1)[-1]), seen | {ref})
            found |= set(node.get(RULES, ()))
            for key, value in node.items():
                if key != RULES:
                    found |= walk(value, seen)
        elif isinstance(node, list):
            for item in node:
                found |= walk(item, seen)
        return found

    return {
        f"{method.upper()} {path}": frozenset(
            walk(op.get("requestBody", {}), frozenset()) | set(op.get(RULES, ()))
        )
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    }


def _fuzz(app: FastAPI, staff: dict[str, str]) -> list[str]:
    """Every operation, positive then negative examples; returns the failures."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    RULES_OF.clear()
    RULES_OF.update(documented_rules(app.openapi()))
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
    operation = f"{case.method} {case.operation.path}"
    caller = ADMIN if operation in ADMIN_ONLY else staff
    response = case.call(headers={**(case.headers or {}), **caller})
    FIGURES[f"cases:{mode.value}"] += 1
    FIGURES[f"status:{response.status_code // 100}xx"] += 1
    code = _problem_code(response)
    FIGURES[f"{case.method} {case.operation.path} {mode.value} {response.status_code} {code}"] += 1
    unreachable = response.status_code == 503 and code == "PROVIDER_UNAVAILABLE"
    assert response.status_code < 500 or unreachable, (
        f"{operation} answered {response.status_code}: {response.text}"
    )
    if mode is GenerationMode.POSITIVE and code == "VALIDATION_ERROR":
        reasons = _reasons(response.json())
        rules = RULES_OF.get(operation, frozenset())
        if reasons and all(any(rule in reason for rule in rules) for reason in reasons):
            FIGURES["documented-refusals"] += 1
            return
        raise AssertionError(
            f"stricter {operation} refused a request its schema allows: {response.text}"
        )


def _reasons(problem: dict[str, Any]) -> list[str]:
    """What a ``VALIDATION_ERROR`` says, one text per refused thing."""
    listed = problem.get("errors")
    if isinstance(listed, list) and listed:
        return [str(error.get("msg", "")) for error in listed]
    return [str(problem.get("detail", ""))]


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
    assert not failures, "refuses what its schema allows, or fails:\n" + "\n".join(failures)
