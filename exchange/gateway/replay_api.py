"""Replay controls over REST: ``GET /api/replay`` (status) and ``POST /api/replay`` (actions).

Exports: ``router``.

``GET`` answers ``{"replaying": false}`` on a server that is not replaying (so a page can probe
it without an error in its console) and the status with ``"replaying": true`` on one that is;
``POST`` answers 404 ``NOT_REPLAYING`` when there is nothing to control. ``POST`` takes
``{"action": "pause"|"resume"|"speed"|"seek", "speed": "10"|"max"|2.5, "to": TIME}`` and
answers the new status; bad input is a 400 ``BAD_REQUEST`` whose message says what is wrong.
A seek answers once it is done. See docs/replay.md for the fields and the time forms.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from exchange.gateway.deps import api_error

__all__ = ["router"]

router = APIRouter(prefix="/api")


class ReplayAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str
    speed: str | float | None = None
    to: str | int | None = None


def _driver(request: Request) -> Any:
    driver = getattr(request.app.state.node, "replay", None)
    if driver is None:
        raise api_error(404, "NOT_REPLAYING", "this server is not replaying a recording")
    return driver


@router.get("/replay", summary="Replay status: clock, speed, paused, position, start and end")
async def replay_status(request: Request) -> dict[str, Any]:
    driver = getattr(request.app.state.node, "replay", None)
    if driver is None:
        return {"replaying": False}
    status: dict[str, Any] = driver.status()
    return {"replaying": True, **status}


@router.post("/replay", summary="Replay control: pause, resume, speed or seek")
async def replay_control(body: ReplayAction, request: Request) -> dict[str, Any]:
    driver = _driver(request)
    try:
        status: dict[str, Any] = await driver.control(body.action, speed=body.speed, to=body.to)
    except driver.control_errors as exc:  # a refused action (the driver says which errors)
        raise api_error(400, "BAD_REQUEST", str(exc)) from None
    return status
