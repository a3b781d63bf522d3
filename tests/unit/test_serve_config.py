"""Endpoint config (endpoint.yaml ⇄ EndpointConfig): the documented example loads, every
mistake is one UsageError naming the field (and the YAML line), route names, for_ref; and the
bearer-token Authenticator built from its auth section."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pydantic
import pytest

from airlock.errors import NO_SUCH_FILE, NotFound, UsageError
from airlock.serve import _config
from airlock.serve._auth import Authenticator
from airlock.serve._config import AuthConfig, EndpointConfig, load_endpoint_config

DOC_YAML = re.search(r"```yaml\n(.*?)```", _config.__doc__ or "", re.S)


def minimal(**extra: Any) -> dict[str, Any]:
    return {"name": "adult-income", "routes": [{"model": "adult-income@production"}], **extra}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "endpoint.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error(source: Any) -> str:
    with pytest.raises(UsageError) as info:
        load_endpoint_config(source)
    return str(info.value)


# --- the documented example -----------------------------------------------------------------

def test_docstring_example_loads(tmp_path: Path) -> None:
    assert DOC_YAML is not None, "the ```yaml example is gone from _config's docstring"
    cfg = load_endpoint_config(write(tmp_path, DOC_YAML.group(1)))
    assert cfg.name == "adult-income"
    assert [(r.model, r.weight) for r in cfg.routes] == [("adult-income@production", 90),
                                                         ("adult-income@5", 10)]
    assert cfg.route_names() == ["primary", "canary"]
    assert cfg.sticky is not None and (cfg.sticky.header, cfg.sticky.field) == ("X-User-Id", None)
    assert (cfg.shadow, cfg.fallback, cfg.timeout_ms) == ("adult-income@challenger",
                                                          "adult-income@4", 250)
    assert (cfg.batching.enabled, cfg.batching.max_batch_size, cfg.batching.max_wait_ms) == (
        True, 32, 2)
    assert cfg.logging.sample_rate == 1.0
    assert cfg.logging.redact == {"sex": "hash", "race": "mask"}
    assert (cfg.auth.tokens_env, cfg.auth.protect_inference) == ("AIRLOCK_SERVE_TOKENS", True)
    assert (cfg.guard.input, cfg.guard.output, cfg.guard.columns) == ("default", "default",
                                                                      ["prompt"])
    assert (cfg.reload_interval_s, cfg.max_body_bytes) == (2, 10_485_760)


def test_str_path_and_dict_sources_agree(tmp_path: Path) -> None:
    assert DOC_YAML is not None
    path = write(tmp_path, DOC_YAML.group(1))
    import yaml

    as_dict = yaml.safe_load(DOC_YAML.group(1))
    assert load_endpoint_config(str(path)) == load_endpoint_config(path) == \
        load_endpoint_config(as_dict)


def test_defaults() -> None:
    cfg = load_endpoint_config(minimal())
    assert cfg.routes[0].weight == 100 and cfg.sticky is None and cfg.shadow is None
    assert (cfg.timeout_ms, cfg.batching.max_batch_size, cfg.batching.max_wait_ms) == (5000, 256,
                                                                                        2)
    assert cfg.auth.tokens == [] and cfg.auth.header == "Authorization"
    assert cfg.logging.enabled and cfg.logging.wait_for_log


def test_config_is_frozen() -> None:
    cfg = load_endpoint_config(minimal())
    with pytest.raises(pydantic.ValidationError):
        cfg.name = "other"  # type: ignore[misc]


# --- mistakes, each one UsageError naming the field -----------------------------------------

@pytest.mark.parametrize(("data", "message"), [
    (minimal(colour="blue"), "<endpoint config>: top level: unknown key 'colour'; known keys: "),
    (minimal(routes=[{"model": "a@1"}, {"model": "a@2", "wieght": 5}]),
     "<endpoint config>: routes[1]: unknown key 'wieght'; did you mean 'weight'?"),
    (minimal(batching={"max_batch": 3}),
     "batching: unknown key 'max_batch'; did you mean 'max_batch_size'?"),
    (minimal(routes=[{"model": "a@1", "weight": 0}, {"model": "a@2", "weight": 0}]),
     "routes: at least one route needs a weight above 0"),
    (minimal(routes=[{"model": "a@1", "weight": -1}]),
     "routes[0].weight: input should be greater than or equal to 0, got -1"),
    (minimal(routes=[{"model": "a@1", "name": "blue"}, {"model": "a@2", "name": "blue"}]),
     "routes: route names must differ, got ['blue', 'blue']"),
    (minimal(routes=[{"model": "a@1"}, {"model": "a@2", "name": "primary"}]),
     "routes: route names must differ, got ['primary', 'primary']"),
    (minimal(sticky={"header": "X-User", "field": "user_id"}),
     "sticky: sticky needs exactly one of 'header' or 'field'"),
    (minimal(sticky={}), "sticky: sticky needs exactly one of 'header' or 'field'"),
    (minimal(routes=[]), "routes: list should have at least 1 item"),
    ({"name": "x"}, "routes: required but missing"),
    (minimal(name="adult income!"), "name: name must be letters, digits"),
    (minimal(timeout_ms=0), "timeout_ms: input should be greater than 0, got 0"),
    (minimal(batching={"max_batch_size": 0}), "batching.max_batch_size: "),
    (minimal(logging={"sample_rate": 1.5}), "logging.sample_rate: "),
    (minimal(logging={"redact": {"sex": "encrypt"}}),
     "logging.redact.sex: an unknown redaction 'encrypt'; use one of hash, mask, drop"),
    (minimal(colour="blue", timeout_ms=0),
     "<endpoint config>: top level: unknown key 'colour'; known keys: name, routes, sticky, "
     "shadow, fallback, timeout_ms, batching, logging, auth, guard, reload_interval_s, "
     "max_body_bytes, header_timeout_s, body_timeout_s | timeout_ms: input should be greater "
     "than 0, got 0"),
    (minimal(max_body_bytes=10), "max_body_bytes: "),
])
def test_mistakes_name_the_field(data: dict[str, Any], message: str) -> None:
    msg = error(data)
    assert message in msg
    assert "\n" not in msg and "pydantic" not in msg.lower()


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nroutes:\n  - {model: a@1, weight: 5, extra: 1}\n")
    assert error(path) == (f"{path}: routes[0]: unknown key 'extra' (line 3); known keys: model, "
                           "weight, name")


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nroutes:\n  - {model: a@1\n  weight: [1\n")
    msg = error(path)
    assert msg.startswith(f"{path}: malformed YAML: ")
    line = int(re.search(r"line (\d+)", msg).group(1))  # type: ignore[union-attr]
    assert line in (4, 5)
    path = write(tmp_path, "name: x\n  bad: indent\n")
    assert error(path) == f"{path}: malformed YAML: mapping values are not allowed here (line 2)"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(NotFound) as info:
        load_endpoint_config(path)
    assert str(info.value) == NO_SUCH_FILE.format(what="endpoint config file", path=path)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "endpoint.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    assert error(path).startswith(f"cannot read endpoint config {path}")
    assert error(tmp_path).startswith(f"cannot read endpoint config {tmp_path}")  # a directory


@pytest.mark.parametrize("text", ["", "- name: x\n", "just a string\n", "42\n"])
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert error(path).startswith(f"{path}: expected a mapping of name and routes, got ")


def test_an_alias_bomb_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "name: &n x\nroutes:\n  - {model: *n}\n")
    assert error(path) == (f"{path}: YAML anchors and aliases (&name, *name) are not allowed "
                           "(line 1)")


# --- route names and for_ref ----------------------------------------------------------------

@pytest.mark.parametrize(("routes", "names"), [
    ([{"model": "a@1"}], ["primary"]),
    ([{"model": "a@1"}, {"model": "a@2"}, {"model": "a@3"}, {"model": "a@4"}],
     ["primary", "canary", "canary-2", "canary-3"]),
    ([{"model": "a@1", "name": "blue"}, {"model": "a@2"}, {"model": "a@3", "name": "green"}],
     ["blue", "canary", "green"]),
    ([{"model": "a@1", "name": ""}, {"model": "a@2", "name": "x"}], ["primary", "x"]),
])
def test_route_names(routes: list[dict[str, Any]], names: list[str]) -> None:
    assert load_endpoint_config(minimal(routes=routes)).route_names() == names


def test_for_ref() -> None:
    cfg = EndpointConfig.for_ref("adult-income@production")
    assert cfg.name == "adult-income"
    assert [(r.model, r.weight) for r in cfg.routes] == [("adult-income@production", 100)]
    assert cfg.route_names() == ["primary"]
    assert EndpointConfig.for_ref("churn@3").name == "churn"
    assert EndpointConfig.for_ref("churn").routes[0].model == "churn"
    tuned = EndpointConfig.for_ref("churn@3", timeout_ms=50, batching={"enabled": False})
    assert tuned.timeout_ms == 50 and tuned.batching.enabled is False


def test_for_ref_bad_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="name"):
        EndpointConfig.for_ref("adult income@1")


# --- bearer tokens --------------------------------------------------------------------------

ADMIN_TOKENS = "ops:viewer=s3cret,dev:developer=other-token"


@pytest.fixture(autouse=True)
def _no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint token from the environment; the admin API's tokens (AIRLOCK_TOKENS) are
    the endpoint's two, so each test checks both paths with the same header."""
    monkeypatch.delenv("AIRLOCK_SERVE_TOKENS", raising=False)
    monkeypatch.delenv("AIRLOCK_UI_TOKENS", raising=False)
    monkeypatch.setenv("AIRLOCK_TOKENS", ADMIN_TOKENS)


def auth(**config: Any) -> Authenticator:
    return Authenticator(AuthConfig.model_validate(config))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("admin", [False, True])
def test_right_token_is_allowed(admin: bool) -> None:
    a = auth(tokens=["s3cret", "other-token"])
    assert a.enabled and a.protect_inference
    assert a.allowed(bearer("s3cret"), admin=admin)
    assert a.allowed(bearer("other-token"), admin=admin)
    assert a.allowed({"authorization": "bearer s3cret"}, admin=admin)  # scheme: any case
    assert a.allowed({"authorization": "BEARER   s3cret  "}, admin=admin)


@pytest.mark.parametrize("headers", [
    {}, {"authorization": ""}, {"authorization": "Bearer"}, {"authorization": "Bearer "},
    {"authorization": "Bearer s3cre"}, {"authorization": "Bearer s3cret2"},
    {"authorization": "Bearer S3CRET"}, {"authorization": "Basic s3cret"},
    {"authorization": "s3cret"}, {"authorization": "Bearers3cret"},
    {"x-token": "Bearer s3cret"}, {"authorization": "Bearer s3cret,other-token"},
    {"authorization": "Bearer é"},
], ids=lambda h: repr(h))
@pytest.mark.parametrize("admin", [False, True])
def test_wrong_missing_or_wrong_scheme_is_rejected(headers: dict[str, str], admin: bool) -> None:
    assert not auth(tokens=["s3cret", "other-token"]).allowed(headers, admin=admin)


def test_no_tokens_inference_open_admin_closed() -> None:
    a = auth()
    assert not a.enabled and not a.protect_inference
    assert a.allowed({}) and a.allowed(bearer("anything"))
    assert not a.allowed({}, admin=True)
    assert not a.allowed(bearer(""), admin=True)
    assert not a.allowed(bearer("anything"), admin=True)


def test_protect_inference_off_leaves_only_admin_protected() -> None:
    a = auth(tokens=["s3cret"], protect_inference=False)
    assert a.allowed({}) and a.allowed(bearer("wrong"))
    assert not a.allowed({}, admin=True) and not a.allowed(bearer("wrong"), admin=True)
    assert a.allowed(bearer("s3cret"), admin=True)


def test_tokens_from_env_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_SERVE_TOKENS", " alpha, beta ,,gamma ")
    assert AuthConfig().resolved_tokens() == ["alpha", "beta", "gamma"]
    a = auth(tokens=["from-yaml"])
    for token in ("alpha", "beta", "gamma", "from-yaml"):
        assert a.allowed(bearer(token)), token
    assert not a.allowed(bearer("alpha, beta"))
    assert not a.allowed(bearer(""))


def test_custom_env_var_and_env_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKENS", "t1,t2")
    monkeypatch.setenv("AIRLOCK_SERVE_TOKENS", "default-env")
    custom = auth(tokens_env="MY_TOKENS")
    assert custom.allowed(bearer("t2")) and not custom.allowed(bearer("default-env"))
    off = auth(tokens_env=None)
    assert not off.enabled and not off.allowed(bearer("default-env"), admin=True)


def test_empty_env_var_means_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_SERVE_TOKENS", " , ")
    a = auth()
    assert not a.enabled and a.allowed({}) and not a.allowed(bearer(""), admin=True)


def test_custom_header_without_scheme() -> None:
    a = auth(tokens=["k-123"], header="X-Api-Key", scheme="")
    assert a.allowed({"x-api-key": "k-123"})
    assert not a.allowed({"x-api-key": "Bearer k-123"})
    assert not a.allowed({"authorization": "Bearer k-123"})


def test_real_starlette_headers_are_case_insensitive() -> None:
    datastructures = pytest.importorskip("starlette.datastructures")
    a = auth(tokens=["s3cret"])
    headers = datastructures.Headers(headers={"Authorization": "Bearer s3cret"})
    assert a.allowed(headers, admin=True)
    wrong = datastructures.Headers(headers={"AUTHORIZATION": "Bearer nope"})
    assert not a.allowed(wrong, admin=True)


def test_an_empty_configured_token_is_refused_at_load() -> None:
    with pytest.raises(UsageError, match=r"auth\.tokens: a token is empty"):
        load_endpoint_config({"name": "m", "routes": [{"model": "m@1"}],
                              "auth": {"tokens": ["", "s3cret"]}})
    a = auth(tokens=[" s3cret "])  # configured tokens are stripped like presented ones
    assert a.allowed(bearer("s3cret"), admin=True)


@pytest.mark.parametrize("key", ["protect_inference", "protect_metadata"])
def test_protection_asked_for_without_a_token_refuses_to_start(key: str) -> None:
    with pytest.raises(UsageError, match=rf"auth.{key} is true but no token is configured: "
                                         r"set \$AIRLOCK_SERVE_TOKENS"):
        auth(**{key: True})
    assert auth(**{key: True}, tokens=["s3cret"]).enabled


def test_metadata_is_closed_with_inference_unless_opened() -> None:
    closed = auth(tokens=["s3cret"])
    assert closed.protect_metadata
    assert not closed.allowed({}, metadata=True) and closed.allowed(bearer("s3cret"),
                                                                     metadata=True)
    opened = auth(tokens=["s3cret"], protect_metadata=False)
    assert opened.allowed({}, metadata=True) and not opened.allowed({})
    only_meta = auth(tokens=["s3cret"], protect_inference=False, protect_metadata=True)
    assert only_meta.allowed({}) and not only_meta.allowed({}, metadata=True)
    assert auth().allowed({}, metadata=True)  # no tokens, nothing asked: open as before
