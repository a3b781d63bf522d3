"""Typed settings, read from the environment in one place.

| variable              | default                         |
|-----------------------|---------------------------------|
| AIRLOCK_HOME          | ./.airlock                      |
| AIRLOCK_STORE_URI     | sqlite:///$AIRLOCK_HOME/airlock.db |
| AIRLOCK_ARTIFACT_URI  | $AIRLOCK_HOME/artifacts         |
| AIRLOCK_ACTOR         | the OS user                     |
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = ["Settings", "settings"]


class Settings(BaseModel):
    """Where the store lives and who is acting. Frozen: build a new one to change it."""

    model_config = ConfigDict(frozen=True)

    home: Path
    store_uri: str
    artifact_uri: str
    actor: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("AIRLOCK_HOME") or ".airlock").expanduser().absolute()
        store_uri = env.get("AIRLOCK_STORE_URI") or f"sqlite:///{home / 'airlock.db'}"
        artifact_uri = env.get("AIRLOCK_ARTIFACT_URI") or str(home / "artifacts")
        return cls(home=home, store_uri=store_uri, artifact_uri=artifact_uri, actor=_actor(env))


def _actor(env: os._Environ[str] | dict[str, str]) -> str:
    if env.get("AIRLOCK_ACTOR"):
        return env["AIRLOCK_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


def settings() -> Settings:
    """The settings in force now (read from the environment on every call; cheap)."""
    return Settings.from_env()
