"""What the fake saw, for tests to assert on: HTTP requests with their bodies, heartbeats, gateway frames."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Upload:
    """A file of a multipart request (`files[n]`): what the client uploaded, byte for byte."""

    name: str  # the form field, e.g. "files[0]"
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One HTTP request the client made. `path` is relative to /api/v10 (e.g. /users/@me)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any  # the parsed JSON body; None if empty
    headers: dict[str, str]
    t: float  # time.monotonic() on arrival
    route: str | None = None  # the route's name, e.g. "interaction_callback"; None if the fake has no such route
    params: dict[str, str] = field(default_factory=dict)  # path parameters, e.g. {"interaction_id": ...}
    status: int = 0
    response: Any = None
    injected: bool = False  # answered by FakeDiscord.inject_error
    files: list[Upload] = field(default_factory=list)  # a multipart request's files; `json` is its payload_json

    @property
    def unknown(self) -> bool:
        return self.route is None

    def __repr__(self) -> str:
        body = json.dumps(self.json)[:200] if self.json is not None else ""
        return f"<{self.method} {self.path} -> {self.status} route={self.route} {body}>"


@dataclass
class Heartbeat:
    t: float  # time.monotonic() on arrival
    seq: int | None  # the heartbeat's "d": the last sequence number the client saw
    connection: int


@dataclass
class GatewayFrame:
    t: float
    direction: str  # "recv" (client -> fake) or "send" (fake -> client)
    connection: int
    payload: dict[str, Any]

    @property
    def op(self) -> int:
        return self.payload.get("op", -1)

    @property
    def event(self) -> str | None:
        return self.payload.get("t")
