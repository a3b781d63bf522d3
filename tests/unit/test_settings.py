"""Settings are read from the environment in _config.py only; secrets never show."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airlock
from airlock._config import DEBUG_ENV, GUARD_KEY_ENV, GUARD_SALT_ENV, Settings, settings
from airlock.errors import UsageError

SRC = Path(airlock.__file__).parent
OWNED = {"AIRLOCK_HOME", "AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI", "AIRLOCK_ACTOR",
         GUARD_KEY_ENV, GUARD_SALT_ENV, DEBUG_ENV}


def test_guard_key_salt_and_debug_come_from_the_environment() -> None:
    s = Settings.from_env({GUARD_KEY_ENV: "k3y", GUARD_SALT_ENV: "pepper", DEBUG_ENV: "1"})
    assert s.guard_key is not None and s.guard_key.get_secret_value() == "k3y"
    assert s.guard_salt is not None and s.guard_salt.get_secret_value() == "pepper"
    assert s.debug is True
    assert "k3y" not in repr(s) and "pepper" not in repr(s) and "k3y" not in s.model_dump_json()
    empty = Settings.from_env({GUARD_KEY_ENV: ""})
    assert (empty.guard_key, empty.guard_salt, empty.debug) == (None, None, False)
    for off in ("0", "false", "No", "off", " "):
        assert Settings.from_env({DEBUG_ENV: off}).debug is False


def test_every_setting_is_documented_in_the_table() -> None:
    from airlock import _config

    for name in OWNED:
        assert f"| {name} " in (_config.__doc__ or ""), name


def test_guard_reads_its_key_and_salt_through_settings(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    from airlock.guard import Guard

    policy = {"input": {"pii": {"mode": "hash"}}}
    monkeypatch.delenv(GUARD_SALT_ENV, raising=False)
    with pytest.raises(UsageError, match=GUARD_SALT_ENV):
        Guard(policy)
    monkeypatch.setenv(GUARD_SALT_ENV, "pepper")
    assert settings().guard_salt is not None
    assert Guard(policy).salt == "pepper"
    monkeypatch.delenv(GUARD_KEY_ENV, raising=False)
    with pytest.raises(UsageError, match=GUARD_KEY_ENV):
        Guard({"input": {"pii": {"mode": "tokenize"}}})
    monkeypatch.setenv(GUARD_KEY_ENV, "k3y")
    assert Guard({"input": {"pii": {"mode": "tokenize"}}}).tokenizer is not None


def _environment_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, variable) of every os.environ.get/[...]/os.getenv of a string constant or of a
    module-level name bound to one."""
    constants = {t.id: n.value.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                 for t in n.targets if isinstance(t, ast.Name)}

    def text(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return constants.get(node.id) if isinstance(node, ast.Name) else None

    out = []
    for node in ast.walk(tree):
        arg = None
        if isinstance(node, ast.Call) and node.args and ast.unparse(node.func) in (
                "os.environ.get", "os.getenv", "environ.get", "getenv"):
            arg = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ",
                                                                             "environ"):
            arg = node.slice
        if arg is not None and text(arg) is not None:
            out.append((node.lineno, str(text(arg))))
    return out


def test_airlock_settings_are_read_in_config_only() -> None:
    outside = [f"{p.relative_to(SRC)}:{line} {name}" for p in SRC.rglob("*.py")
               if p.name != "_config.py"
               for line, name in _environment_reads(ast.parse(p.read_text(encoding="utf-8")))
               if name in OWNED]
    assert outside == []
    assert _environment_reads(ast.parse('import os\nK = "AIRLOCK_DEBUG"\nos.environ.get(K)\n'
                                        'os.getenv("AIRLOCK_GUARD_SALT")\n')) == [
        (3, "AIRLOCK_DEBUG"), (4, "AIRLOCK_GUARD_SALT")]
