"""Typed settings, read from the environment in one place.

| variable             | default                            | meaning                         |
|----------------------|------------------------------------|---------------------------------|
| AIRLOCK_HOME         | ./.airlock                         | the local store's folder        |
| AIRLOCK_STORE_URI    | sqlite:///$AIRLOCK_HOME/airlock.db | the metadata database           |
| AIRLOCK_ARTIFACT_URI | $AIRLOCK_HOME/artifacts            | the artifact store (fsspec)     |
| AIRLOCK_ACTOR        | the OS user                        | who acts, in audit events       |
| AIRLOCK_GUARD_KEY    | unset                              | key of guard `tokenize` (secret)|
| AIRLOCK_GUARD_SALT   | unset                              | salt of guard `hash` when the   |
|                      |                                    | policy sets none (secret)       |
| AIRLOCK_DEBUG        | off (empty, 0, false, no, off)     | the CLI shows a traceback for   |
|                      |                                    | an unexpected error             |

Secrets are :class:`pydantic.SecretStr`: they never show in a repr or a dump.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

__all__ = ["DEBUG_ENV", "GUARD_KEY_ENV", "GUARD_SALT_ENV", "Settings", "settings"]

GUARD_KEY_ENV = "AIRLOCK_GUARD_KEY"
GUARD_SALT_ENV = "AIRLOCK_GUARD_SALT"
DEBUG_ENV = "AIRLOCK_DEBUG"
_OFF = frozenset({"", "0", "false", "no", "off"})


class Settings(BaseModel):
    """Where the store lives and who is acting. Frozen: build a new one to change it."""

    model_config = ConfigDict(frozen=True)

    home: Path
    store_uri: str
    artifact_uri: str
    actor: str
    guard_key: SecretStr | None = None
    guard_salt: SecretStr | None = None
    debug: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("AIRLOCK_HOME") or ".airlock").expanduser().absolute()
        store_uri = env.get("AIRLOCK_STORE_URI") or f"sqlite:///{home / 'airlock.db'}"
        artifact_uri = env.get("AIRLOCK_ARTIFACT_URI") or str(home / "artifacts")
        return cls(home=home, store_uri=store_uri, artifact_uri=artifact_uri, actor=_actor(env),
                   guard_key=_secret(env, GUARD_KEY_ENV), guard_salt=_secret(env, GUARD_SALT_ENV),
                   debug=env.get(DEBUG_ENV, "").strip().lower() not in _OFF)


def _secret(env: Mapping[str, str], name: str) -> SecretStr | None:
    return SecretStr(env[name]) if env.get(name) else None


def _actor(env: Mapping[str, str]) -> str:
    if env.get("AIRLOCK_ACTOR"):
        return env["AIRLOCK_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


def settings() -> Settings:
    """The settings in force now (read from the environment on every call; cheap)."""
    return Settings.from_env()
