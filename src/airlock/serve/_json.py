"""JSON in and out of the server: orjson when installed (the ``[serve]`` extra), else json."""

from __future__ import annotations

import json
import math
from typing import Any

from airlock.errors import UsageError

__all__ = ["dumps", "loads"]

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the serve extra brings orjson
    _orjson = None


def loads(body: bytes, what: str = "body") -> Any:
    """Parse JSON; a malformed body is a UsageError (HTTP 400) saying where it breaks."""
    if not body:
        raise UsageError(f"the {what} is empty; send a JSON object")
    try:
        if _orjson is not None:
            return _orjson.loads(body)
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"the {what} is not valid JSON: {str(exc).splitlines()[0]}") from None


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj: Any) -> bytes:
    """Serialise; NaN and infinities become null (JSON has no spelling for them)."""
    if _orjson is not None:
        out: bytes = _orjson.dumps(obj, option=_orjson.OPT_SERIALIZE_NUMPY)
        return out
    return json.dumps(_finite(obj), separators=(",", ":"), default=str).encode()
