"""One endpoint at run time: routes, shadow, fallback, prediction log, hot reload, hooks.

Hot reload picks up moved aliases and the route weights a progressive rollout keeps in the
store (``airlock rollout``): each reload reads them (one primary-key read) and swaps the
router in one assignment; the server announces its routes to the store when it starts.

No HTTP here (see ``_app``): :meth:`Endpoint.infer` takes a table and answers with the outputs,
the version that produced them and the route it took.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from airlock._config import settings
from airlock.errors import AirlockError, ModelTimeout, ModelUnavailable, UsageError

from ._config import EndpointConfig
from ._guardrails import guard_hooks
from ._logged import failure_records, settle
from ._metrics import Metrics
from ._payload import Pending
from ._router import Router
from ._slots import ModelSlot, Scored

__all__ = ["Answer", "Endpoint", "TableHook"]

log = logging.getLogger("airlock.serve")

TableHook = Callable[[pa.Table], pa.Table]
"""A guardrail hook: returns the (possibly redacted) table, or raises an AirlockError."""


@dataclass(frozen=True)
class Answer:
    outputs: pa.Table
    scored: Scored
    route: str


def _salt() -> str:
    """This store's secret salt for hashing PII in logs: made once (0600), then reused so a
    hashed value stays joinable across restarts and workers."""
    import secrets

    path = settings().home / "secrets" / "log-salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".log-salt.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # the first writer wins; every worker then reads the same salt
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _one_openmp_thread() -> None:
    """Small batches: OpenMP teams per call oversubscribe the cores (measured: p50 200 ms →
    45 ms for HistGradientBoosting under load). OMP_NUM_THREADS, when set, wins."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        return
    threadpool_limits(limits=1, user_api="openmp")


def _through(hooks: list[TableHook], table: pa.Table) -> pa.Table:
    for hook in hooks:
        table = hook(table)
    return table


class Endpoint:
    def __init__(self, config: EndpointConfig, *, metrics: Metrics | None = None,
                 input_hooks: list[TableHook] | None = None,
                 output_hooks: list[TableHook] | None = None) -> None:
        self.config = config
        self.name = config.name
        self.metrics = metrics or Metrics()
        self.arriving = 0  # requests read but not yet queued: the batcher waits for them
        self.ready = False
        guard_in, guard_out = guard_hooks(config.guard)
        self.input_hooks = [*guard_in, *(input_hooks or [])]
        self.output_hooks = [*(output_hooks or []), *guard_out]
        on_batch = self._observe_batch
        self.route_names = config.route_names()
        self.routes = [ModelSlot(r.model, n, config.batching, arriving=self._arriving,
                                 on_batch=on_batch, endpoint=self.name)
                       for r, n in zip(config.routes, self.route_names, strict=True)]
        self.weights = [r.weight for r in config.routes]
        self.router = Router(self.weights)
        self.shadow = (ModelSlot(config.shadow, "shadow", config.batching,
                                 arriving=self._arriving, on_batch=on_batch, endpoint=self.name)
                       if config.shadow else None)
        self.fallback = (ModelSlot(config.fallback, "fallback", config.batching,
                                   on_batch=on_batch, endpoint=self.name)
                         if config.fallback else None)
        self._log: Any = None
        self._feedback: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reloader: asyncio.Task[None] | None = None

    def _arriving(self) -> int:
        return self.arriving

    def _observe_batch(self, role: str, rows: int) -> None:
        self.metrics.batch_size.labels(self.name, role).observe(rows)

    @property
    def slots(self) -> list[ModelSlot]:
        extra = [s for s in (self.shadow, self.fallback) if s is not None]
        return [*self.routes, *extra]

    # -- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        _one_openmp_thread()
        await asyncio.gather(*(loop.run_in_executor(None, s.load) for s in self.slots))
        await loop.run_in_executor(None, self._announce)
        if self.config.logging.enabled:
            self._open_logs()
        self._reloader = loop.create_task(self._reload_loop(), name="airlock-reload")
        self.ready = True
        log.info("endpoint %s ready: %s", self.name,
                 ", ".join(f"{s.role}={s.current.ref}" for s in self.slots))

    def _open_logs(self) -> None:
        from airlock.predlog import PredictionLog, Redactor, log_locations

        uri, spool = log_locations()
        cfg = self.config.logging
        redactor = Redactor(dict(cfg.redact), salt=os.environ.get(cfg.salt_env) or _salt()) \
            if cfg.redact else None
        common: dict[str, Any] = {"spool_dir": spool, "artifact_uri": uri,
                                  "segment_max_bytes": int(cfg.segment_max_mb * 2**20),
                                  "segment_max_seconds": cfg.segment_max_seconds}
        self._log = PredictionLog(self.name, redactor=redactor, **common).open()
        self._feedback = PredictionLog(self.name, stream="feedback", **common).open()
        for slot in self.slots:
            slot.log = self._log

    async def stop(self) -> None:
        """Stop reloading, answer what is queued, wait for shadows, close the logs."""
        self.ready = False
        if self._reloader is not None:
            self._reloader.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        for slot in self.slots:
            await slot.close()
        loop = asyncio.get_running_loop()
        for plog in (self._log, self._feedback):
            if plog is not None:
                await loop.run_in_executor(None, plog.close)

    async def _reload_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.reload_interval_s)
            await self.reload(loop)

    async def reload(self, loop: asyncio.AbstractEventLoop | None = None) -> list[str]:
        """Pick up moved aliases now; returns the roles whose version changed."""
        loop = loop or asyncio.get_running_loop()
        changed = []
        try:
            if await loop.run_in_executor(None, self.apply_weights):
                changed.append("weights")
        except Exception as exc:  # keep the weights it has; say why, keep reloading
            log.warning("reload of the route weights of %s failed, keeping %s: %s",
                        self.name, self.weights, exc)
        for slot in self.slots:
            try:
                if await loop.run_in_executor(None, slot.refresh):
                    changed.append(slot.role)
                    self.metrics.reloads.labels(self.name, slot.role).inc()
            except Exception as exc:  # keep serving the loaded version; say why, and keep
                # reloading: an exception escaping here would end the reload loop for good
                what = str(exc) if isinstance(exc, AirlockError) else \
                    f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                log.warning("reload of %s (%s) failed, still serving %s: %s",
                            slot.ref, slot.role, slot.current.ref, what)
        return changed

    def _announce(self) -> None:
        """Tell the store which routes this server has (a rollout checks its candidate
        against them), then take the weights a rollout set, if any."""
        from airlock.store import get_store

        try:
            get_store().rollouts.announce(
                self.name, [{"name": n, "model": r.model, "weight": r.weight}
                            for n, r in zip(self.route_names, self.config.routes,
                                            strict=True)],
                self.config.reload_interval_s)
            self.apply_weights()
        except AirlockError as exc:  # a read-only store still serves, by the config
            log.warning("endpoint %s: routes not announced to the store, serving the "
                        "config's weights: %s", self.name, exc)

    def apply_weights(self) -> bool:
        """Route by the weights a rollout keeps in the store (the config's when none);
        True when they changed. Requests in flight keep the route they were given."""
        from airlock.store import get_store

        stored = get_store().rollouts.weights(self.name)
        wanted = ([r.weight for r in self.config.routes] if stored is None
                  else [float(stored.get(n, 0.0)) for n in self.route_names])
        if wanted == self.weights or sum(wanted) <= 0:
            return False
        self.router, self.weights = Router(wanted), wanted
        log.info("endpoint %s: route weights %s", self.name,
                 ", ".join(f"{n}={w:g}" for n, w in zip(self.route_names, wanted, strict=True)))
        return True

    # -- requests -----------------------------------------------------------------------
    def choose(self, headers: Mapping[str, str], item: Pending) -> int:
        sticky = self.config.sticky
        key: str | None = None
        if sticky is not None and sticky.header:
            key = headers.get(sticky.header.lower())
        elif sticky is not None and sticky.field:
            value = item.column_value(sticky.field)
            key = None if value is None else str(value)
        return self.router.pick(key)

    async def infer(self, item: Pending, *, headers: Mapping[str, str],
                    slot: ModelSlot | None = None) -> Answer:
        """Score one request: pick a route (unless ``slot`` is given), fall back, log. A
        request answered with an error (guard block, bad rows, model failure) is logged too."""
        item.log = self._sampled()
        route, chosen, answered = "guard", slot or self.routes[0], False
        loop = asyncio.get_running_loop()
        try:
            if self.input_hooks:  # in a thread: a slow check must not stall the event loop
                table = await loop.run_in_executor(None, _through, self.input_hooks,
                                                   item.table())
                item.data, item.rows = table, table.num_rows
            if slot is None:
                i = self.choose(headers, item)
                chosen, route = self.routes[i], self.route_names[i]
            else:
                route = slot.role
            scored, route = await self._answer(chosen, route, item)
            answered = True  # its record is written: an error from here on is not a second one
            outputs = scored.outputs
            if self.output_hooks:
                outputs = await loop.run_in_executor(None, _through, self.output_hooks,
                                                     outputs)
            if scored.logged is not None and self.config.logging.wait_for_log:
                await asyncio.wrap_future(scored.logged)
        except AirlockError as exc:
            if not answered:
                await self._log_error(exc, item, route, chosen)
            raise
        if self.shadow is not None:
            task = loop.create_task(self._shadow(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return Answer(outputs, scored, route)

    async def _within(self, slot: ModelSlot, item: Pending) -> Scored:
        """``slot``'s answer within ``timeout_ms``, else TimeoutError. A slot that is logging
        its answer as the time runs out is waited for (a moment): the log then holds what the
        client got, never a late answer beside a fallback's or a timeout's record."""
        task = asyncio.ensure_future(slot.predict(item))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.config.timeout_ms / 1000)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done and slot.abandon(item):
            task.cancel()
            raise TimeoutError
        return await task

    async def _answer(self, slot: ModelSlot, route: str, item: Pending) -> tuple[Scored, str]:
        error: ModelUnavailable
        try:
            return await self._within(slot, item), route
        except UsageError:
            raise  # bad input is bad input on every model: no fallback
        except TimeoutError:
            reason, error = "timeout", ModelTimeout(
                f"{slot.ref} did not answer within {self.config.timeout_ms:g} ms")
        except Exception as exc:
            log.exception("%s (%s) failed", slot.ref, route)
            reason, error = "error", ModelUnavailable(
                f"{slot.ref} failed: {type(exc).__name__}")
        if self.fallback is None:
            raise error
        self.metrics.fallbacks.labels(self.name, reason).inc()
        try:  # the fallback gets timeout_ms of its own: a hung fallback is a 504, not a hang
            return await self._within(self.fallback, item), "fallback"
        except UsageError:
            raise
        except TimeoutError:
            raise ModelTimeout(f"{slot.ref} failed ({reason}) and the fallback "
                               f"{self.fallback.ref} did not answer within "
                               f"{self.config.timeout_ms:g} ms") from None
        except Exception as exc:
            raise ModelUnavailable(f"{slot.ref} failed ({reason}) and the fallback "
                                   f"{self.fallback.ref} failed too: "
                                   f"{type(exc).__name__}") from exc

    async def _log_error(self, exc: Exception, item: Pending, route: str,
                         slot: ModelSlot) -> None:
        if not item.log or self._log is None:
            return
        model = slot.model
        records = failure_records(
            exc, endpoint=self.name, request_id=item.request_id, ts_ms=item.ts_ms,
            started=item.started, route=route, model=slot.name,
            version=model.version.version if model is not None else None, item=item)
        await settle(self._log, records, wait=self.config.logging.wait_for_log)

    async def log_rejected(self, exc: AirlockError, *, request_id: str, started: float) -> None:
        """A request answered with an error before it reached :meth:`infer` (no token, a body
        too large or not parseable, an unknown version): logged with null inputs."""
        if not self._sampled():
            return
        slot = self.routes[0]
        records = failure_records(
            exc, endpoint=self.name, request_id=request_id, ts_ms=int(time.time() * 1000),
            started=started, route="rejected", model=slot.name, version=None)
        await settle(self._log, records, wait=self.config.logging.wait_for_log)

    def _sampled(self) -> bool:
        rate = self.config.logging.sample_rate
        return self._log is not None and (rate >= 1.0 or random.random() < rate)

    async def _shadow(self, item: Pending) -> None:
        assert self.shadow is not None
        copy = Pending(item.data, item.rows, item.request_id, item.ts_ms, log=item.log)
        try:
            await self._within(self.shadow, copy)
        except Exception as exc:  # a shadow never affects the answer; note it and move on
            self.metrics.errors.labels(self.name, "shadow").inc()
            if isinstance(exc, TimeoutError):
                exc = ModelTimeout(f"{self.shadow.ref} did not answer within "
                                   f"{self.config.timeout_ms:g} ms")
            elif not isinstance(exc, AirlockError):  # as on a route: the model failed
                exc = ModelUnavailable(f"{self.shadow.ref} failed: {type(exc).__name__}")
            log.warning("shadow %s failed on %s: %s", self.shadow.ref, item.request_id, exc)
            if item.log and self._log is not None:
                model = self.shadow.model
                records = failure_records(
                    exc, endpoint=self.name, request_id=item.request_id, ts_ms=item.ts_ms,
                    started=copy.started, route="shadow", model=self.shadow.name,
                    version=model.version.version if model is not None else None)
                await settle(self._log, records, wait=False)

    async def feedback(self, request_ids: list[str],
                       labels: list[Any]) -> tuple[int, list[str]]:
        """Store the labels of the requests this endpoint logged; returns how many were
        accepted and the ids it never logged (reported back, never stored)."""
        if self._feedback is None or self._log is None:
            raise UsageError(f"endpoint {self.name} has logging turned off: feedback has "
                             "nowhere to go")
        from airlock.predlog import make_feedback

        loop = asyncio.get_running_loop()
        known = await loop.run_in_executor(None, self._logged_ids, request_ids)
        keep = [i for i, r in enumerate(request_ids) if r in known]
        unknown = list(dict.fromkeys(r for r in request_ids if r not in known))
        if keep:
            table = make_feedback([request_ids[i] for i in keep], [labels[i] for i in keep],
                                  int(time.time() * 1000))
            await asyncio.wrap_future(self._feedback.append(table))
        return len(keep), unknown

    def _logged_ids(self, request_ids: list[str]) -> set[str]:
        """Which of ``request_ids`` are in this endpoint's prediction log (every worker's:
        segments and live spools), reading only the ``request_id`` column."""
        import pyarrow.compute as pc

        from airlock.predlog import scan_prediction_log

        self._log.flush()  # an answer just given is in the log before we look
        wanted = pa.array(sorted(set(request_ids)), pa.string())
        found: set[str] = set()
        for batch in scan_prediction_log(self.name, columns=["request_id"]):
            ids = batch.column("request_id")
            found.update(ids.filter(pc.is_in(ids, value_set=wanted)).to_pylist())
            if len(found) == len(wanted):
                break
        return found

    def slot_for_version(self, version: int) -> ModelSlot:
        for slot in self.slots:
            if slot.model is not None and slot.model.version.version == version:
                return slot
        served = sorted({s.current.version.version for s in self.slots if s.model})
        from airlock.errors import NotFound

        raise NotFound(f"version {version} of {self.name} is not served here "
                       f"(served: {', '.join(map(str, served))})")
