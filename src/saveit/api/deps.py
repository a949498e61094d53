"""Request-scoped access to the container the app was built with."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from saveit.bootstrap import Container


async def container_of(request: Request) -> Container:
    """Async on purpose: FastAPI runs a plain ``def`` dependency on the thread
    pool, and a thread hop per request only to read an attribute cost more CPU
    than many endpoints' own work."""
    return cast(Container, request.app.state.container)


ContainerDep = Annotated[Container, Depends(container_of)]
