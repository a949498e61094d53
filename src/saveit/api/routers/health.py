"""Liveness (the process answers) and readiness (it can reach its database)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from saveit.api.deps import ContainerDep
from saveit.api.problems import problem
from saveit.bootstrap import Container

router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 2.0


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _database_answers(container: Container) -> bool:
    """``SELECT 1`` in a helper thread, so a database that hangs costs a probe at
    most ``READY_TIMEOUT_S`` instead of a connect timeout."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with container.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            result.append(True)
        except Exception:
            result.append(False)

    worker = threading.Thread(target=probe, name="saveit-readyz", daemon=True)
    worker.start()
    worker.join(READY_TIMEOUT_S)
    return bool(result and result[0])


@router.get("/readyz", response_model=None)
def readyz(container: ContainerDep) -> dict[str, Any] | JSONResponse:
    if _database_answers(container):
        return {"status": "ready", "database": "ok"}
    return problem("SERVICE_UNAVAILABLE", "The database does not answer", data={"database": "down"})
