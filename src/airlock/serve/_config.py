"""The endpoint configuration: a frozen pydantic model of ``endpoint.yaml``.

```yaml
name: adult-income                 # the name clients use (/v2/models/adult-income)
routes:                            # weights are relative; one route answers each request
  - {model: adult-income@production, weight: 90}
  - {model: adult-income@5, weight: 10, name: canary}
sticky: {header: X-User-Id}        # or {field: user_id}: one key always sees one variant
shadow: adult-income@challenger    # gets a copy of the traffic; logged, never returned
fallback: adult-income@4           # answers when the route fails or exceeds timeout_ms
timeout_ms: 250                     # default 5000
batching: {max_batch_size: 32, max_wait_ms: 2}    # enabled: false turns it off
logging: {sample_rate: 1.0, redact: {sex: hash, race: mask}}
auth: {tokens_env: AIRLOCK_SERVE_TOKENS, protect_inference: true, protect_metadata: true}
guard: {input: default, output: default, columns: [prompt], messages: messages,
        context: [context]}            # messages: JSON [{role, content}]; context: documents
reload_interval_s: 2
max_body_bytes: 10485760
header_timeout_s: 10               # a client slower than this is cut off (408)
body_timeout_s: 30
```
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airlock._yaml import load_config

__all__ = [
    "AuthConfig",
    "BatchingConfig",
    "EndpointConfig",
    "GuardConfig",
    "LoggingConfig",
    "RouteConfig",
    "StickyConfig",
    "load_endpoint_config",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteConfig(_Frozen):
    model: str
    weight: float = Field(default=100.0, ge=0)
    name: str | None = None


class StickyConfig(_Frozen):
    header: str | None = None
    field: str | None = None

    @model_validator(mode="after")
    def _one(self) -> StickyConfig:
        if (self.header is None) == (self.field is None):
            raise ValueError("sticky needs exactly one of 'header' or 'field'")
        return self


class BatchingConfig(_Frozen):
    enabled: bool = True
    max_batch_size: int = Field(default=256, ge=1, le=100_000)
    max_wait_ms: float = Field(default=2.0, ge=0, le=10_000)


class LoggingConfig(_Frozen):
    enabled: bool = True
    sample_rate: float = Field(default=1.0, ge=0, le=1)
    redact: dict[str, Literal["hash", "mask", "drop"]] = Field(default_factory=dict)
    salt_env: str = "AIRLOCK_LOG_SALT"
    wait_for_log: bool = True  # answer only after the record is on disk
    segment_max_mb: float = Field(default=64, gt=0)
    segment_max_seconds: float = Field(default=300, gt=0)


class AuthConfig(_Frozen):
    tokens: list[str] = Field(default_factory=list)
    tokens_env: str | None = "AIRLOCK_SERVE_TOKENS"
    header: str = "Authorization"
    scheme: str = "Bearer"
    # None: protected when a token is configured. True with no token refuses to start.
    protect_inference: bool | None = None
    # the signature (/v2/models/{m}), /metrics and /openapi.json; None: as inference
    protect_metadata: bool | None = None

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v: list[str]) -> list[str]:
        stripped = [t.strip() for t in v]
        if any(not t for t in stripped):
            raise ValueError("a token is empty: every token needs characters")
        return stripped

    def resolved_tokens(self) -> list[str]:
        tokens = list(self.tokens)
        if self.tokens_env and os.environ.get(self.tokens_env):
            tokens += [t.strip() for t in os.environ[self.tokens_env].split(",") if t.strip()]
        return tokens


class GuardConfig(_Frozen):
    input: str | None = None
    output: str | None = None
    columns: list[str] | None = None  # text columns to check; default: every string column
    # a string column whose value is a JSON array of {role, content}: Guard.check_messages
    messages: str | None = "messages"
    # string columns holding retrieved documents: checked at the policy's context stage
    context: list[str] = Field(default_factory=lambda: ["context"])


class EndpointConfig(_Frozen):
    name: str
    routes: list[RouteConfig] = Field(min_length=1)
    sticky: StickyConfig | None = None
    shadow: str | None = None
    fallback: str | None = None
    timeout_ms: float = Field(default=5000.0, gt=0)
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)
    reload_interval_s: float = Field(default=2.0, gt=0)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    header_timeout_s: float = Field(default=10.0, gt=0)  # request line and headers
    body_timeout_s: float = Field(default=30.0, gt=0)  # the whole body, once headers arrived

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("name must be letters, digits, '_', '.', '-' (≤ 128 characters)")
        return v

    @model_validator(mode="after")
    def _weights(self) -> EndpointConfig:
        if sum(r.weight for r in self.routes) <= 0:
            raise ValueError("routes: at least one route needs a weight above 0")
        names = self.route_names()
        if len(set(names)) != len(names):
            raise ValueError(f"routes: route names must differ, got {names}")
        return self

    def route_names(self) -> list[str]:
        """Each route's name: given, else 'primary' for the first and 'canary', 'canary-2'…"""
        out: list[str] = []
        for i, r in enumerate(self.routes):
            if r.name:
                out.append(r.name)
            elif i == 0:
                out.append("primary")
            else:
                out.append("canary" if i == 1 else f"canary-{i}")
        return out

    @classmethod
    def for_ref(cls, ref: str, **overrides: Any) -> EndpointConfig:
        """A one-route endpoint named after the model (``airlock serve name@alias``)."""
        name = ref.split("@", 1)[0]
        return load_endpoint_config({"name": name, "routes": [{"model": ref}], **overrides})


def load_endpoint_config(source: str | Path | dict[str, Any]) -> EndpointConfig:
    """Read and check an endpoint config: one UsageError listing every problem with its field
    path and (for YAML) its line (:mod:`airlock._yaml`)."""
    return load_config(source, EndpointConfig, what="endpoint config",
                       expected="name and routes", nouns=_NOUNS)


_NOUNS = {"redact": "redaction"}
