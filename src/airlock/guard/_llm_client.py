"""What ``llm eval`` reads and calls: the labelled cases (JSONL), the reference scores,
and the model: a Python function, or an OpenAI-compatible chat endpoint.

* ``python:module:function`` (or any callable): called with the prompt ``str`` when the case
  has only a prompt, else with the ``messages`` list; returns a ``str`` or
  ``{"text": str, "usage": {"prompt_tokens": int, "completion_tokens": int}}``.
* ``http(s)://host:port/v1``: ``POST {base}/chat/completions`` with ``{"model", "messages",
  "temperature": 0, "seed"}`` (httpx). 429 and 5xx answers and connection errors are retried
  with exponential backoff (``Retry-After`` honoured, capped); 401/403 raise Unauthorized,
  other 4xx UsageError, exhausted retries ModelUnavailable / ModelTimeout. The API key comes
  from an environment variable (``OPENAI_API_KEY`` by default) and is never part of a message.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airlock.errors import (
    DependencyMissing,
    InvalidInput,
    ModelTimeout,
    ModelUnavailable,
    Unauthorized,
    UsageError,
)

from ._jsonl import read_jsonl

__all__ = ["DEFAULT_KEY_ENV", "OUTCOMES", "Answer", "ChatModel", "HttpChatModel",
           "PythonChatModel", "canonical", "exact_match", "load_chat_model", "messages_of",
           "normalize_label", "read_cases", "token_f1"]

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 30.0
Messages = list[dict[str, str]]
OUTCOMES = ("allowed", "blocked", "refuse", "violation")
_ALIASES = {"block": "blocked", "refusal": "refuse", "refused": "refuse", "allow": "allowed",
            "violate": "violation", "violations": "violation"}
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


@dataclass(frozen=True)
class Answer:
    """One model answer; token counts are None when the model does not report usage."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatModel:
    """A model the harness calls: ``model(prompt, messages) -> Answer``; ``spec`` names it
    in reports (never with a secret)."""

    spec: str = "model"

    def __call__(self, prompt: str | None, messages: Messages) -> Answer:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (nothing for a Python function)."""


class PythonChatModel(ChatModel):
    """A Python function: given the prompt (a case with only a prompt) or the messages."""

    def __init__(self, fn: Callable[..., Any], spec: str) -> None:
        self.fn = fn
        self.spec = spec

    def __call__(self, prompt: str | None, messages: Messages) -> Answer:
        arg: Any = prompt if prompt is not None else [dict(m) for m in messages]
        return answer_from(self.fn(arg), self.spec)


def answer_from(value: Any, spec: str) -> Answer:
    """An :class:`Answer` from what a Python model returned (a str or a dict)."""
    if isinstance(value, str):
        return Answer(value)
    if isinstance(value, Mapping) and isinstance(value.get("text"), str):
        usage = value.get("usage") or {}
        if not isinstance(usage, Mapping):
            raise InvalidInput(f"model {spec} returned a \"usage\" that is not an object")
        return Answer(value["text"], _tokens(usage.get("prompt_tokens"), spec),
                      _tokens(usage.get("completion_tokens"), spec))
    raise InvalidInput(f"model {spec} must return a str or {{\"text\": str, \"usage\": {{...}}}}"
                       f" (got {type(value).__name__})")


def _tokens(value: Any, spec: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"model {spec}: token counts must be whole numbers >= 0 "
                           f"(got {value!r})")
    return value


class HttpChatModel(ChatModel):
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint (one pooled httpx client,
    safe to share between the harness's threads)."""

    def __init__(self, base_url: str, *, model_name: str, seed: int = 0, timeout: float = 30.0,
                 retries: int = 3, backoff: float = 0.5, api_key_env: str = DEFAULT_KEY_ENV
                 ) -> None:
        try:
            import httpx
        except ImportError:
            raise DependencyMissing("an HTTP model needs httpx: pip install httpx") from None
        if timeout <= 0:
            raise UsageError(f"timeout must be > 0 seconds (got {timeout:g})")
        if retries < 0:
            raise UsageError(f"retries must be >= 0 (got {retries})")
        self.spec = base_url.rstrip("/")
        self.url = self.spec + "/chat/completions"
        self.model_name = model_name
        self.seed, self.retries, self.backoff, self.timeout = seed, retries, backoff, timeout
        self.key_env = api_key_env
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._httpx = httpx
        self._client = httpx.Client(timeout=timeout, headers=headers, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __call__(self, prompt: str | None, messages: Messages) -> Answer:
        body = {"model": self.model_name, "messages": messages, "temperature": 0,
                "seed": self.seed}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._client.post(self.url, json=body)
            except self._httpx.TimeoutException:
                if last:
                    raise ModelTimeout(f"{self.url} did not answer within {self.timeout:g} s "
                                       f"({self.retries + 1} attempts)") from None
                time.sleep(self._delay(attempt, None))
                continue
            except self._httpx.HTTPError as exc:
                if last:
                    raise ModelUnavailable(f"cannot reach {self.url}: {_exc_text(exc)} "
                                           f"({self.retries + 1} attempts)") from None
                time.sleep(self._delay(attempt, None))
                continue
            if response.status_code in _RETRY_STATUS and not last:
                time.sleep(self._delay(attempt, response.headers.get("retry-after")))
                continue
            return self._answer(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), _MAX_BACKOFF_S)
            except ValueError:
                pass
        return float(min(self.backoff * (2 ** attempt), _MAX_BACKOFF_S))

    def _answer(self, response: Any) -> Answer:
        status = int(response.status_code)
        if status in (401, 403):
            raise Unauthorized(f"{self.url} refused the request (HTTP {status}): set a valid "
                               f"API key in the environment variable {self.key_env}")
        if status >= 400:
            kind = ModelUnavailable if status >= 500 or status in _RETRY_STATUS else UsageError
            raise kind(f"{self.url} answered HTTP {status}"
                       + (f" after {self.retries + 1} attempts" if kind is ModelUnavailable
                          else "") + f": {_error_text(response)}")
        try:
            data = response.json()
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ModelUnavailable(f"{self.url} did not answer with OpenAI chat JSON "
                                   "(choices[0].message.content)") from None
        usage = data.get("usage") if isinstance(data, Mapping) else None
        usage = usage if isinstance(usage, Mapping) else {}
        return Answer("" if text is None else str(text),
                      _opt_int(usage.get("prompt_tokens")),
                      _opt_int(usage.get("completion_tokens")))


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def _exc_text(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:200]


def _error_text(response: Any) -> str:
    """The endpoint's error message (OpenAI's ``{"error": {"message"}}`` or the body)."""
    try:
        data = response.json()
    except ValueError:
        text = str(response.text).strip()
        return (text.splitlines()[0][:200] if text else "no body")
    err = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(err, Mapping):
        err = err.get("message")
    return str(err if err is not None else data)[:200]


def load_chat_model(model: str | Callable[..., Any] | ChatModel, *, model_name: str | None = None,
                    seed: int = 0, timeout: float = 30.0, retries: int = 3,
                    backoff: float = 0.5, api_key_env: str = DEFAULT_KEY_ENV) -> ChatModel:
    """A ChatModel from ``python:module:function``, ``http(s)://…/v1``, a callable, or a
    ChatModel (returned as is)."""
    if isinstance(model, ChatModel):
        return model
    if callable(model):
        name = getattr(model, "__qualname__", type(model).__name__)
        return PythonChatModel(model, f"python:{getattr(model, '__module__', '?')}:{name}")
    if not isinstance(model, str):
        raise UsageError(f"model must be a string or a callable (got {type(model).__name__})")
    if model.startswith(("http://", "https://")):
        if not model_name:
            raise UsageError("an HTTP model needs a model name (--model-name)")
        return HttpChatModel(model, model_name=model_name, seed=seed, timeout=timeout,
                             retries=retries, backoff=backoff, api_key_env=api_key_env)
    if model.startswith("python:"):
        return PythonChatModel(_import(model.removeprefix("python:"), model), model)
    raise UsageError(f"unknown model {model!r}: use python:module:function or "
                     "http://host:port/v1")


def _import(target: str, spec: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise UsageError(f"model {spec!r}: expected python:module:function")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"model {spec!r}: cannot import {module_name!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"model {spec!r}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"model {spec!r}: {attr} is not callable")
    fn: Callable[..., Any] = obj
    return fn


def messages_of(prompt: str | None, system: str | None,
                messages: Sequence[Mapping[str, str]] | None) -> Messages:
    """The chat messages of a case: its ``messages``, else ``system`` + ``prompt``."""
    if messages is not None:
        return [dict(m) for m in messages]
    out = [{"role": "system", "content": system}] if system else []
    return [*out, {"role": "user", "content": prompt or ""}]


# -- cases --------------------------------------------------------------------------------
def normalize_label(label: str) -> str:
    """The canonical spelling of a label (lower case; ``block`` -> ``blocked``, ...)."""
    key = label.strip().lower()
    return _ALIASES.get(key, key)


def read_cases(data: str | Path | Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Checked, normalised cases from a JSONL path or dicts; (cases, source name)."""
    if isinstance(data, str | Path):
        items: list[tuple[Any, str]] = read_jsonl(data, "cases file")
        source = Path(data).name
    else:
        items = [(raw, f"case {i}") for i, raw in enumerate(data, start=1)]
        source = "cases"
    cases = [_case(raw, where, n) for n, (raw, where) in enumerate(items, start=1)]
    if not cases:
        raise InvalidInput(f"{source}: no cases to evaluate")
    seen: dict[str, str] = {}
    for case, (_, where) in zip(cases, items, strict=True):
        if case["id"] in seen:
            raise InvalidInput(f"{where}: duplicate id {case['id']!r} (first at "
                               f"{seen[case['id']]})")
        seen[case["id"]] = where
    return cases, source


def _case(raw: Any, where: str, n: int) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: expected a JSON object")
    unknown = sorted(set(raw) - {"id", "prompt", "messages", "system", "expected", "reference",
                                 "tags", "note"})
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r} (allowed: id, prompt, "
                           "messages, system, expected, reference)")
    prompt, messages, system = raw.get("prompt"), raw.get("messages"), raw.get("system")
    if (prompt is None) == (messages is None):
        raise InvalidInput(f"{where}: needs exactly one of \"prompt\" (a string) or "
                           "\"messages\" (a list)")
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidInput(f"{where}: \"prompt\" must be a string")
    if messages is not None:
        _check_messages(messages, where)
        if system is not None:
            raise InvalidInput(f"{where}: put the system prompt in \"messages\", not "
                               "\"system\"")
    for key in ("system", "reference"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise InvalidInput(f"{where}: \"{key}\" must be a string")
    ident = raw.get("id", f"case-{n}")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or not str(ident):
        raise InvalidInput(f"{where}: \"id\" must be a non-empty string or a number")
    return {"id": str(ident), "prompt": prompt, "system": system,
            "messages": None if messages is None else [dict(m) for m in messages],
            "expected": _expected(raw.get("expected"), where), "reference": raw.get("reference")}


def _check_messages(messages: Any, where: str) -> None:
    ok = isinstance(messages, list) and bool(messages) and all(
        isinstance(m, Mapping) and set(m) <= {"role", "content", "name"}
        and m.get("role") in ("system", "user", "assistant", "tool")
        and isinstance(m.get("content"), str) for m in messages)
    if not ok:
        raise InvalidInput(f"{where}: \"messages\" must be a non-empty list of {{\"role\": "
                           "system|user|assistant|tool, \"content\": str}")


def _expected(value: Any, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise InvalidInput(f"{where}: \"expected\" must be a label or a non-empty list of "
                           "labels (allowed, refuse, blocked, violation, pii_leak, ...)")
    labels = sorted({normalize_label(v) for v in items})
    bad = [v for v in labels if not _LABEL.match(v)]
    if bad:
        raise InvalidInput(f"{where}: bad label {bad[0]!r} (letters, digits, _ . -)")
    return labels


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


# -- scoring answers against references ---------------------------------------------------
def _norm_tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return text.split()


def token_f1(answer: str, reference: str) -> float:
    """SQuAD token F1 of ``answer`` against ``reference`` (lower case, no punctuation or
    articles); 1.0 when both are empty."""
    a, r = _norm_tokens(answer), _norm_tokens(reference)
    if not a or not r:
        return float(a == r)
    common = sum((Counter(a) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


def exact_match(answer: str, reference: str) -> float:
    return float(_norm_tokens(answer) == _norm_tokens(reference))
