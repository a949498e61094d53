"""The OpenAPI document, with the limits that come from this deployment's settings
(a static model cannot know them) written in, so the schema states every rule."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from saveit.config import Settings


def document_settings(app: FastAPI, settings: Settings) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            ttl = schema["components"]["schemas"]["NewToken"]["properties"]["ttl_days"]
            for branch in ttl.get("anyOf", [ttl]):
                if branch.get("type") == "integer":
                    branch["maximum"] = settings.staff_token_max_ttl_days
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
