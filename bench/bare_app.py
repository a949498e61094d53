"""The reference of ``cache.py``: a FastAPI app that answers one constant JSON.

It exists only for the bench: run by the same uvicorn, with the same worker
count, it is what the framework and server cost with nothing of SaveIt's.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok"}
