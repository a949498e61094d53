"""Liveness (the process answers) and readiness (it can reach its database, and
whether Redis answers)."""

from __future__ import annotations

import threading

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from saveit.api.deps import AdminServices, ContainerDep, Services
from saveit.api.problems import problem
from saveit.api.responses import Health, Readiness

router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 2.0


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")


def _database_answers(services: AdminServices) -> bool:
    """``SELECT 1`` in a helper thread, so a database that hangs costs a probe at
    most ``READY_TIMEOUT_S`` instead of a connect timeout."""
    result: list[bool] = []

    def probe() -> None:
        try:
            services.database.ping()
            result.append(True)
        except Exception:
            result.append(False)

    worker = threading.Thread(target=probe, name="saveit-readyz", daemon=True)
    worker.start()
    worker.join(READY_TIMEOUT_S)
    return bool(result and result[0])


@router.get("/readyz", response_model=Readiness, response_model_exclude_unset=True)
def readyz(container: ContainerDep, services: Services) -> Readiness | JSONResponse:
    """503 without the database; 200 ``degraded`` without Redis, because the process
    still serves every request correctly then (cache bypassed, limits in process)."""
    gate = container.redis_gate
    redis_ok = gate.ping() if gate is not None else None
    if not _database_answers(services):
        data = {"database": "down"}
        if redis_ok is not None:
            data["redis"] = "ok" if redis_ok else "down"
        return problem("SERVICE_UNAVAILABLE", "The database does not answer", data=data)
    if redis_ok is None:
        return Readiness(status="ready", database="ok")
    if redis_ok:
        return Readiness(status="ready", database="ok", redis="ok")
    return Readiness(status="degraded", database="ok", redis="down")
