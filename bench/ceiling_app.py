"""The throughput ceiling the booking bench compares against.

A FastAPI app that does the least a booking can do: one INSERT per request,
through the same driver and pool as SaveIt (``create_db_engine``). Whatever
SaveIt does beyond that — validation, availability search, locking, the outbox —
shows up as the gap between the two figures. It exists only for the bench.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import text

from saveit.store.database import create_db_engine

TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_ceiling ("
    " id bigserial PRIMARY KEY, name text NOT NULL, party_size int NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now())"
)


def create_app() -> FastAPI:
    """Build the app from ``BENCH_DATABASE_URL``; the table is created by the bench."""
    engine = create_db_engine(
        os.environ["BENCH_DATABASE_URL"],
        pool_size=int(os.environ.get("SAVEIT_DB_POOL_SIZE", "10")),
    )
    threads = int(os.environ.get("SAVEIT_REQUEST_THREADS", "8"))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The same request concurrency as SaveIt (its `request_threads` setting),
        # so the ceiling is measured at its best too.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    app = FastAPI(lifespan=lifespan)
    insert = text(
        "INSERT INTO bench_ceiling (name, party_size) VALUES (:name, :party) RETURNING id"
    )

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.post("/insert", status_code=201)
    def do_insert(body: dict[str, object]) -> dict[str, int]:
        # A sync endpoint, like SaveIt's: it runs on the same threadpool.
        with engine.begin() as conn:
            row_id = conn.execute(
                insert, {"name": str(body.get("name", "")), "party": int(body.get("party_size", 2))}
            ).scalar_one()
        return {"id": row_id}

    return app
