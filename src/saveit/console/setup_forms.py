"""From a setup form to the admin's own models, and their refusals back to the
form's fields.

The console checks a form by building the very model the API's route builds
(:mod:`saveit.admin.setup`, :mod:`saveit.admin.channel_settings`), so a value
the API refuses is refused here with the same message. A refusal is a mapping
``{field name: message}``; a field's name is its model path joined by ``-``
(``turn_times-0-minutes``), and a rule between fields lands on the field it
names first (``min_capacity cannot exceed …``) or on ``form``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from saveit.admin.fields import Day
from saveit.console.problems import said
from saveit.domain import errors

M = TypeVar("M", bound=BaseModel)
FORM = "form"  # a refusal of the whole form, not of one field
_PREFIX = re.compile(r"^(Value|Assertion) error, ")
_LEADING_NAME = re.compile(r"^([a-z_]+)(?:\[[^\]]*\])?\b")
_DAY: TypeAdapter[Any] = TypeAdapter(Day)

# Rules between fields whose message does not start with the field's name.
_BY_MESSAGE = {
    "a service cannot open and close at the same time": "closes",
    "a closed date has no hours": "closed",
    "give the hours of the special date, or mark it closed": "hours-0-opens",
}
_BY_ENDING = {"is not an IANA time zone": "timezone"}


class Refused(Exception):
    """A form's values refused: ``problems`` maps field names to messages."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


def message(text: str) -> str:
    return _PREFIX.sub("", text)


def _key(loc: Iterable[Any], text: str, fields: frozenset[str]) -> str:
    parts = [str(p) for p in loc]
    if text in _BY_MESSAGE:  # a rule between fields of the model at ``loc``
        return "-".join([*parts, _BY_MESSAGE[text]])
    if parts:
        return "-".join(parts)
    for ending, field in _BY_ENDING.items():
        if text.endswith(ending):
            return field
    found = _LEADING_NAME.match(text)
    if found and found.group(1) in fields:
        return found.group(1)
    return FORM


def problems_of(exc: ValidationError, model: type[BaseModel] | None = None) -> dict[str, str]:
    """Each error of ``exc`` under its field's name (the first message per field)."""
    fields = frozenset(model.model_fields) if model is not None else frozenset()
    found: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_context=False):
        text = message(str(error.get("msg", "")))
        found.setdefault(_key(error.get("loc", ()), text, fields), text)
    return found


def build(model: type[M], values: Mapping[str, Any]) -> M:
    """``model`` from ``values``, or :class:`Refused` with the model's messages."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise Refused(problems_of(exc, model)) from None


def refusal(exc: errors.DomainError, lang: str, default: str = FORM) -> Refused:
    """A service's refusal, in ``lang``, on the field it names (``data.field``) or
    ``default``."""
    return Refused({str(exc.data.get("field") or default): said(lang, exc)})


def day(value: str, field: str = "date") -> Any:
    """A date as the API's path takes it (``YYYY-MM-DD``, years 2000 to 2199)."""
    try:
        return _DAY.validate_python(value)
    except ValidationError as exc:
        raise Refused({field: message(str(exc.errors()[0]["msg"]))}) from None


def text_or_none(form: Mapping[str, str], name: str) -> str | None:
    """A blank optional field means "not given" (as the API's absent field)."""
    value = form.get(name, "").strip()
    return value or None


def checked(form: Mapping[str, str], name: str) -> bool:
    return form.get(name) in ("on", "true", "1")
