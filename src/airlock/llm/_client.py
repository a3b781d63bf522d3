"""The model ``llm eval`` calls: a Python function, or an OpenAI-compatible chat endpoint.

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
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airlock.errors import (
    DependencyMissing,
    InvalidInput,
    ModelTimeout,
    ModelUnavailable,
    Unauthorized,
    UsageError,
)

__all__ = ["DEFAULT_KEY_ENV", "Answer", "ChatModel", "HttpChatModel", "Messages",
           "PythonChatModel", "answer_from", "load_chat_model"]

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 30.0
Messages = list[dict[str, str]]


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
