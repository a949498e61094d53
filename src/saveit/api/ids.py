"""Row ids in paths and queries: the database's keys are signed 64-bit integers, so
a larger number names nothing and is refused as bad input before any query."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
