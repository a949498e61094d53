"""Request-scoped access to the container the app was built with."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from saveit.bootstrap import Container


def container_of(request: Request) -> Container:
    return cast(Container, request.app.state.container)


ContainerDep = Annotated[Container, Depends(container_of)]
