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
| AIRLOCK_AUDIT_KEY    | unset: the key file below          | signs the audit head (secret)   |
| AIRLOCK_AUDIT_KEY_FILE | $AIRLOCK_HOME/audit.key          | where the audit key is kept     |
| AIRLOCK_IMPORT_MAX_BYTES | 10 GiB                         | cap of an import's copied bytes |
| AIRLOCK_INDEX_MAX_BYTES | 4 GiB                           | cap of the memory an index build|
|                      |                                    | needs (documents, vectors)      |
| AIRLOCK_CACHE_DIR    | $XDG_CACHE_HOME/airlock, else      | files built from installed      |
|                      | ~/.cache/airlock                   | packages (the guard's ONNX      |
|                      |                                    | classifier), sha256-checked     |
| AIRLOCK_TOKENS       | unset: UI read-only, serve admin   | ACTOR:ROLE+ROLE=TOKEN entries,  |
|                      | closed                             | comma-separated (secret)        |
| AIRLOCK_UI_TOKENS    | unset (the older form)             | ACTOR=TOKEN pairs, each with    |
|                      |                                    | role admin (secret)             |

Secrets are :class:`pydantic.SecretStr`: they never show in a repr or a dump.

The audit key signs the audit chain's head, which airlock keeps outside the database too
(``audit/head.json`` in the artifact store), so ``events verify`` detects an emptied or
truncated database. The key is ``AIRLOCK_AUDIT_KEY`` when set (any secret text), else the
contents of ``AIRLOCK_AUDIT_KEY_FILE``, a random key written there (mode 0600) on first use.
Keep it where whoever can write the database cannot (a secret store, another volume).
``AIRLOCK_IMPORT_MAX_BYTES`` caps the bytes copied when importing a model directory;
``AIRLOCK_INDEX_MAX_BYTES`` caps the memory a retrieval index build may need (the documents
read, their chunks and the vectors), checked before the work starts.

``AIRLOCK_TOKENS`` is the one place tokens are configured for ``airlock ui`` and the admin
API of ``airlock serve``: entries ``ACTOR:ROLE[+ROLE…]=TOKEN`` separated by commas or
newlines, e.g. ``alice:developer=7f3c…,bob:approver=91aa…``. Roles are :data:`ROLES`;
:data:`PERMISSIONS` says what each may do (``admin`` may do everything). The older
``AIRLOCK_UI_TOKENS`` (``ACTOR=TOKEN`` pairs) still works, each pair with role ``admin`` (what
such a token could do before); setting both is an error. :func:`access_tokens` parses
them; :func:`roles_of` gives the roles configured for an actor name (what a CLI approval is
checked against: the CLI has no token, so its actor and roles are claimed, not proven).

Who acts is ``AIRLOCK_ACTOR`` (else the OS user), unless code runs inside
``with acting_as("alice"):`` (a context variable, so one thread or task at a time): the web
UI does its writes as the actor its token maps to, and every audit event records that actor.
"""

from __future__ import annotations

import contextlib
import getpass
import hmac
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from airlock.errors import UsageError

__all__ = [
    "DEBUG_ENV",
    "GUARD_KEY_ENV",
    "GUARD_SALT_ENV",
    "PERMISSIONS",
    "ROLES",
    "TOKENS_ENV",
    "UI_TOKENS_ENV",
    "AccessTokens",
    "Settings",
    "TokenEntry",
    "access_tokens",
    "acting_as",
    "audit_key",
    "import_max_bytes",
    "index_max_bytes",
    "roles_of",
    "settings",
    "ui_tokens",
    "use_store_uri",
]

GUARD_KEY_ENV = "AIRLOCK_GUARD_KEY"
GUARD_SALT_ENV = "AIRLOCK_GUARD_SALT"
DEBUG_ENV = "AIRLOCK_DEBUG"
UI_TOKENS_ENV = "AIRLOCK_UI_TOKENS"
TOKENS_ENV = "AIRLOCK_TOKENS"
#: the roles a token can carry
ROLES = ("viewer", "developer", "approver", "admin")
#: what each role may do; ``admin`` may do everything
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "developer": frozenset({"read", "alias", "promote", "reload"}),
    "approver": frozenset({"read", "approve"}),
    "admin": frozenset({"read", "alias", "promote", "reload", "approve", "protect",
                        "override"}),
}
MSG_TOKEN_ENTRY = ("{var} entry {n} is not ACTOR:ROLE=TOKEN: write entries such as "
                   "alice:developer=TOKEN or bob:approver+viewer=TOKEN, separated by commas")
MSG_UI_TOKEN_ENTRY = ("{var} entry {n} is not ACTOR=TOKEN: write pairs such as alice=TOKEN, "
                      "separated by commas")
MSG_TOKEN_ROLE = ("{var} entry {n}: unknown role {role!r} (roles: viewer, developer, "
                  "approver, admin)")
MSG_TOKEN_TWICE = "{var}: two entries share one token; give each actor its own"
MSG_TOKENS_BOTH = (f"set {TOKENS_ENV} or the older {UI_TOKENS_ENV}, not both: move the "
                   f"{UI_TOKENS_ENV} pairs into {TOKENS_ENV} as ACTOR:admin=TOKEN")
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
    cache_dir: Path = Path("~/.cache/airlock").expanduser()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("AIRLOCK_HOME") or ".airlock").expanduser().absolute()
        store_uri = env.get("AIRLOCK_STORE_URI") or f"sqlite:///{home / 'airlock.db'}"
        artifact_uri = env.get("AIRLOCK_ARTIFACT_URI") or str(home / "artifacts")
        xdg = env.get("XDG_CACHE_HOME") or "~/.cache"
        cache = Path(env.get("AIRLOCK_CACHE_DIR") or Path(xdg) / "airlock").expanduser()
        return cls(home=home, store_uri=store_uri, artifact_uri=artifact_uri, actor=_actor(env),
                   guard_key=_secret(env, GUARD_KEY_ENV), guard_salt=_secret(env, GUARD_SALT_ENV),
                   debug=env.get(DEBUG_ENV, "").strip().lower() not in _OFF,
                   cache_dir=cache.absolute())


def _secret(env: Mapping[str, str], name: str) -> SecretStr | None:
    return SecretStr(env[name]) if env.get(name) else None


_acting: ContextVar[str | None] = ContextVar("airlock_acting_as", default=None)


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Inside the block, ``settings().actor`` is ``actor`` (this thread or task only)."""
    if not actor or not actor.strip():
        raise ValueError("acting_as needs a non-empty actor")
    token = _acting.set(actor.strip())
    try:
        yield
    finally:
        _acting.reset(token)


def _actor(env: Mapping[str, str]) -> str:
    acting = _acting.get()
    if acting:
        return acting
    if env.get("AIRLOCK_ACTOR"):
        return env["AIRLOCK_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


def use_store_uri(uri: str) -> None:
    """Point this process (and the processes it starts) at the store ``uri``
    (``--store-uri`` of the commands that serve a store)."""
    os.environ["AIRLOCK_STORE_URI"] = uri


def settings() -> Settings:
    """The settings in force now (read from the environment on every call; cheap)."""
    return Settings.from_env()


def audit_key(env: os._Environ[str] | dict[str, str] | None = None, *,
              create: bool = True) -> bytes | None:
    """The key that signs the audit chain's head (see the module docstring); None when there
    is none yet and ``create`` is False."""
    env = os.environ if env is None else env
    if env.get("AIRLOCK_AUDIT_KEY"):
        return env["AIRLOCK_AUDIT_KEY"].encode()
    path = Path(env.get("AIRLOCK_AUDIT_KEY_FILE")
                or Settings.from_env(dict(env)).home / "audit.key").expanduser()
    try:
        return path.read_bytes().strip() or None
    except FileNotFoundError:
        if not create:
            return None
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode())
        fh.flush()
        os.fsync(fh.fileno())
    return path.read_bytes().strip()


def ui_tokens(env: Mapping[str, str] | None = None) -> SecretStr | None:
    """``AIRLOCK_UI_TOKENS`` as a secret (the web UI parses its ACTOR=TOKEN pairs); None
    when unset or blank."""
    env = os.environ if env is None else env
    raw = env.get(UI_TOKENS_ENV, "")
    return SecretStr(raw) if raw.strip() else None


def import_max_bytes(env: os._Environ[str] | dict[str, str] | None = None) -> int:
    """The most bytes an import (e.g. of an MLflow model directory) copies."""
    env = os.environ if env is None else env
    raw = env.get("AIRLOCK_IMPORT_MAX_BYTES")
    return int(raw) if raw and raw.isdigit() else 10 << 30


def index_max_bytes(env: os._Environ[str] | dict[str, str] | None = None) -> int:
    """The most memory (bytes) a retrieval index build may need; 4 GiB unless
    ``AIRLOCK_INDEX_MAX_BYTES`` says otherwise."""
    env = os.environ if env is None else env
    raw = env.get("AIRLOCK_INDEX_MAX_BYTES")
    return int(raw) if raw and raw.isdigit() else 4 << 30


@dataclass(frozen=True)
class TokenEntry:
    """One configured token: who it acts as and the roles it carries."""

    actor: str
    roles: frozenset[str]
    token: SecretStr = field(repr=False)

    def can(self, action: str) -> bool:
        """Whether one of the roles permits ``action`` (see :data:`PERMISSIONS`)."""
        return any(action in PERMISSIONS[r] for r in self.roles)


@dataclass(frozen=True)
class AccessTokens:
    """The configured tokens (empty: none); ``variable`` names where they came from."""

    entries: tuple[TokenEntry, ...] = ()
    variable: str = TOKENS_ENV

    @property
    def enabled(self) -> bool:
        return bool(self.entries)

    def find(self, given: str | None) -> TokenEntry | None:
        """The entry whose token is ``given``, or None; every token is compared in constant
        time, so the time does not tell which (if any) matched."""
        if not given or not given.strip():
            return None
        raw = given.strip().encode()
        found: TokenEntry | None = None
        for entry in self.entries:
            if hmac.compare_digest(raw, entry.token.get_secret_value().encode()):
                found = entry
        return found


def access_tokens(env: Mapping[str, str] | None = None) -> AccessTokens:
    """Parse ``AIRLOCK_TOKENS`` (or the older ``AIRLOCK_UI_TOKENS``); a malformed entry is a
    UsageError naming its position (never its text, which may be a secret)."""
    env = os.environ if env is None else env
    new, old = env.get(TOKENS_ENV, "").strip(), env.get(UI_TOKENS_ENV, "").strip()
    if new and old:
        raise UsageError(MSG_TOKENS_BOTH)
    var = TOKENS_ENV if new or not old else UI_TOKENS_ENV
    entries: list[TokenEntry] = []
    for n, item in enumerate((new or old).replace("\n", ",").split(","), start=1):
        if not item.strip():
            continue
        who, sep, token = item.partition("=")
        actor, colon, roles_text = who.partition(":")
        if var == UI_TOKENS_ENV:
            if not sep or colon or not actor.strip() or not token.strip():
                raise UsageError(MSG_UI_TOKEN_ENTRY.format(var=var, n=n))
            roles = frozenset({"admin"})
        else:
            names = [r.strip() for r in roles_text.split("+")]
            if not sep or not colon or not actor.strip() or not token.strip() or not all(names):
                raise UsageError(MSG_TOKEN_ENTRY.format(var=var, n=n))
            for role in names:
                if role not in PERMISSIONS:
                    raise UsageError(MSG_TOKEN_ROLE.format(var=var, n=n, role=role[:40]))
            roles = frozenset(names)
        entries.append(TokenEntry(actor=actor.strip(), roles=roles,
                                  token=SecretStr(token.strip())))
    if len({e.token.get_secret_value() for e in entries}) != len(entries):
        raise UsageError(MSG_TOKEN_TWICE.format(var=var))
    return AccessTokens(tuple(entries), var)


def roles_of(actor: str, env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The roles configured for ``actor`` (the union over its tokens; none: empty)."""
    return frozenset(r for e in access_tokens(env).entries if e.actor == actor for r in e.roles)
