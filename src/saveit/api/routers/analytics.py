"""Analytics and guest satisfaction over HTTP.

* ``GET /v1/restaurants/{slug}/analytics?from=&to=&group=`` — the figures
  (manager, owner) as JSON, or as CSV with ``Accept: text/csv`` or ``format=csv``.
* ``GET|PUT /v1/restaurants/{slug}/surveys/settings`` — the survey switch (manager).
* ``GET /v1/restaurants/{slug}/guests/{guest_id}/surveys`` — a guest's answers (host).
* ``GET /v1/reservations/{code}/survey`` — the survey of one booking (staff).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from saveit.admin.fields import Day
from saveit.analytics.export import to_csv
from saveit.analytics.report import Report
from saveit.analytics.service import MAX_RANGE_DAYS, Analytics
from saveit.analytics.survey import Survey, Surveys
from saveit.api.auth import HostOf, ManagerOf, reservation_access
from saveit.api.deps import ContainerDep
from saveit.api.ids import RowId
from saveit.api.schemas import Body
from saveit.domain import errors

router = APIRouter(tags=["analytics"])


class SurveyOut(BaseModel):
    reservation: str
    day: dt.date
    service: str
    channel: str
    language: str
    status: str = Field(description="sent | answered | skipped:<reason>")
    rating: int | None
    comment: str | None
    sent_at: dt.datetime
    answered_at: dt.datetime | None


class SurveySettings(Body):
    enabled: bool = Field(description="ask guests after their visit")
    delay_minutes: Annotated[int, Field(ge=0, le=1440)] = Field(
        0, description="minutes after the visit's end before asking"
    )


def _analytics(container: ContainerDep) -> Analytics:
    if container.analytics is None:
        raise errors.NotFound("Analytics are not available")
    return container.analytics


def _surveys(container: ContainerDep) -> Surveys:
    if container.surveys is None:
        raise errors.NotFound("Surveys are not available")
    return container.surveys


@router.get(
    "/v1/restaurants/{slug}/analytics",
    response_model=Report,
    response_model_by_alias=True,
    responses={200: {"content": {"text/csv": {}}}},
    # What JSON Schema cannot say of two parameters together (see saveit.admin.fields).
    openapi_extra={
        "x-rules": ["'to' is before 'from'", f"a report covers at most {MAX_RANGE_DAYS} days"]
    },
)
def analytics(
    slug: str,
    _staff: ManagerOf,
    container: ContainerDep,
    request: Request,
    since: Annotated[Day, Query(alias="from", description="first day, inclusive")],
    until: Annotated[Day, Query(alias="to", description="last day, inclusive")],
    group: Literal["total", "day", "week", "service", "channel"] = "total",
    format: Literal["json", "csv"] | None = None,
) -> Report | Response:
    """The restaurant's figures over its local days ``from``–``to``: bookings and
    covers by channel and source, lead times, success rate, conversion, no-shows and
    cancellations, occupancy and its hour × weekday heatmap, the bot's reply times,
    handoffs and misunderstood messages, satisfaction and returning guests; each
    with its definition (``definitions``) and flagged when it misses the brief's
    target (``missed_targets``)."""
    found = _analytics(container).report(slug, since, until, group)
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        return Response(to_csv(found), media_type="text/csv; charset=utf-8")
    return found


@router.get("/v1/restaurants/{slug}/surveys/settings", response_model=SurveySettings)
def survey_settings(slug: str, _staff: ManagerOf, container: ContainerDep) -> SurveySettings:
    enabled, delay = _surveys(container).settings(slug)
    return SurveySettings(enabled=enabled, delay_minutes=delay)


@router.put("/v1/restaurants/{slug}/surveys/settings", response_model=SurveySettings)
def put_survey_settings(
    slug: str, body: SurveySettings, _staff: ManagerOf, container: ContainerDep
) -> SurveySettings:
    """Turn the survey after a visit on or off for the restaurant."""
    _surveys(container).set_settings(slug, body.enabled, body.delay_minutes)
    return body


def _out(survey: Survey) -> SurveyOut:
    return SurveyOut(
        reservation=survey.reservation_code,
        day=survey.day,
        service=survey.service,
        channel=survey.channel,
        language=survey.language,
        status=survey.status,
        rating=survey.rating,
        comment=survey.comment,
        sent_at=survey.created_at,
        answered_at=survey.answered_at,
    )


@router.get("/v1/restaurants/{slug}/guests/{guest_id}/surveys", response_model=list[SurveyOut])
def guest_surveys(
    slug: str, guest_id: RowId, _staff: HostOf, container: ContainerDep
) -> list[SurveyOut]:
    """The guest's surveys, newest first: part of their profile."""
    return [_out(s) for s in _surveys(container).of_guest(slug, guest_id)]


@router.get("/v1/reservations/{code}/survey", response_model=SurveyOut)
def reservation_survey(code: str, request: Request, container: ContainerDep) -> SurveyOut:
    """The survey about this booking, with its answer (staff of its restaurant)."""
    reservation_access(request, container, code, staff_only=True)
    found = _surveys(container).of_reservation(code)
    if found is None:
        raise errors.NotFound("No survey for this booking", code=code)
    return _out(found)
