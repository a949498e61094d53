"""``GET /metrics``: the Prometheus exposition of this deployment's API processes
(added up across uvicorn workers in multiprocess mode), with the gauges read
when scraped (see :mod:`saveit.observe.gauges`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def scrape(request: Request) -> Response:
    exposition = request.app.state.metrics
    return Response(exposition.render(), media_type=exposition.content_type)
