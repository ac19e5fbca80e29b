"""Job environments built with uv into a cache keyed by :func:`spec_hash`.

A build runs ``uv venv`` then ``uv pip install`` in ``<cache_dir>/.building/…`` and renames
the folder to ``<cache_dir>/<hash>`` once the marker is written, so a build that crashes
never leaves something that looks finished. One ``flock`` per hash makes concurrent
``ensure`` calls — threads or processes — build a spec once; the others wait, re-check and
get the cache hit. A hit costs a read of the small marker file and one ``utime``.

The venv is isolated (no ``--system-site-packages``): what a job can import is exactly
what its spec installs, so the hash really names the environment's contents and upgrading
the server cannot change a cached environment behind a job's back. A job that wants the
MLflow client lists it, as Azure ML's example conda files do.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from shipyard.environments import _cache, _uv
from shipyard.environments._cache import CachedEnvironment
from shipyard.errors import EnvironmentBuildFailed
from shipyard.services.environment_ports import (
    BuildLog,
    BuiltEnvironment,
    EnvironmentBuilder,
    EnvironmentRequest,
    server_environment,
    spec_hash,
)

__all__ = ["UvEnvironmentBuilder"]

_LOG_TAIL_LINES = 40


class UvEnvironmentBuilder(EnvironmentBuilder):
    """Builds environments under ``cache_dir`` with the uv binary shipped in the ``uv`` wheel.

    ``uv_cache_dir`` overrides uv's own download/wheel cache (``UV_CACHE_DIR``); keep it on the
    same filesystem as ``cache_dir`` so uv can hard-link files instead of copying them.
    """

    def __init__(self, cache_dir: Path, *, uv: Path | None = None, uv_cache_dir: Path | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self._uv = uv
        self._uv_cache_dir = uv_cache_dir

    # -- the port ---------------------------------------------------------------------------

    def ensure(self, request: EnvironmentRequest, log: BuildLog | None = None) -> BuiltEnvironment:
        started = time.perf_counter()
        if request.is_server_interpreter:
            return server_environment(request, time.perf_counter() - started)
        digest = spec_hash(request)
        hit = self._hit(digest, started)
        if hit is not None:
            return hit
        with _cache.locked(self.cache_dir / ".locks" / f"{digest}.lock"):
            # Whoever held the lock before us may have just built it.
            hit = self._hit(digest, started)
            if hit is not None:
                return hit
            return self._build(request, digest, log, started)

    def path_of(self, env_hash: str) -> BuiltEnvironment | None:
        if not _cache.HASH_NAME.fullmatch(env_hash):
            return None
        env_dir = self.cache_dir / env_hash
        marker = _cache.read_marker(env_dir)
        return None if marker is None else _built(env_dir, marker, cache_hit=True, seconds=0.0)

    # -- cache management -------------------------------------------------------------------

    def cached(self) -> list[CachedEnvironment]:
        """The finished environments in the cache, least recently used first."""
        found = []
        for env_dir in self._env_dirs():
            marker = _cache.read_marker(env_dir)
            if marker is not None:
                found.append(_cache.describe(env_dir, marker))
        return sorted(found, key=lambda env: env.last_used)

    def prune(self, keep: set[str]) -> list[str]:
        """Delete every cached environment whose hash is not in ``keep``; the hashes deleted.

        ``keep`` must hold the environments of queued and running jobs: a running job's
        interpreter is deleted from under it otherwise. A hash being built is skipped.
        """
        removed = []
        for env_dir in self._env_dirs():
            if env_dir.name in keep:
                continue
            with _cache.locked(self.cache_dir / ".locks" / f"{env_dir.name}.lock", blocking=False) as got:
                if not got:
                    continue
                # Renamed aside first, so no reader ever sees a half-deleted environment.
                doomed = self._building_dir(env_dir.name, "prune")
                os.rename(env_dir, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
                removed.append(env_dir.name)
        return removed

    # -- internals --------------------------------------------------------------------------

    def _hit(self, digest: str, started: float) -> BuiltEnvironment | None:
        env_dir = self.cache_dir / digest
        marker = _cache.read_marker(env_dir)
        if marker is None:
            return None
        try:
            os.utime(env_dir / _cache.LAST_USED)
        except FileNotFoundError:
            return None  # pruned between the read and now
        return _built(env_dir, marker, cache_hit=True, seconds=time.perf_counter() - started)

    def _build(
        self, request: EnvironmentRequest, digest: str, log: BuildLog | None, started: float
    ) -> BuiltEnvironment:
        self._clear_leftovers(digest)
        work = self._building_dir(digest, "build")
        work.mkdir(parents=True)
        lines: list[str] = []
        with open(work / _cache.BUILD_LOG, "w", encoding="utf-8") as sink:

            def emit(line: str) -> None:
                lines.append(line)
                sink.write(line + "\n")
                sink.flush()
                if log is not None:
                    log(line)

            try:
                self._run_uv(request, work, emit)
            except _uv.UvFailed as failed:
                sink.close()
                raise self._failed(request, digest, work, failed, lines) from None
        seconds = time.perf_counter() - started
        (work / _cache.LAST_USED).touch()
        _cache.write_marker(work, _marker_data(request, digest, work, seconds))
        target = self.cache_dir / digest
        if target.exists():  # a finished-looking folder without a valid marker: not ours to keep
            shutil.rmtree(target)
        os.rename(work, target)
        marker = _cache.read_marker(target)
        assert marker is not None
        return _built(target, marker, cache_hit=False, seconds=time.perf_counter() - started)

    def _run_uv(self, request: EnvironmentRequest, work: Path, emit: _uv.Emit) -> None:
        uv = self._uv_binary()
        env = _uv.uv_environment(self._uv_cache_dir)
        python = _uv.base_python(request)
        _uv.run(_uv.venv_command(uv, work / "venv", python), "venv", emit, env)
        requirements = work / "requirements.txt"
        requirements.write_text("".join(f"{r.strip()}\n" for r in request.requirements), encoding="utf-8")
        command = _uv.install_command(uv, work / "venv" / "bin" / "python", requirements, request)
        _uv.run(command, "install", emit, env)

    def _failed(
        self,
        request: EnvironmentRequest,
        digest: str,
        work: Path,
        failed: _uv.UvFailed,
        lines: list[str],
    ) -> EnvironmentBuildFailed:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        kept = self.cache_dir / "failed" / f"{digest}-{stamp}.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(work / _cache.BUILD_LOG, kept)
        shutil.rmtree(work, ignore_errors=True)
        tail = "\n".join(lines[-_LOG_TAIL_LINES:])
        message = _uv.failure_message(failed, request, lines, kept)
        return EnvironmentBuildFailed(message, log_tail=tail, hash=digest, build_log=str(kept))

    def _clear_leftovers(self, digest: str) -> None:
        """Remove folders of builds of ``digest`` that died; we hold its lock, so none is live."""
        building = self.cache_dir / ".building"
        if building.is_dir():
            for stale in building.glob(f"{digest}-*"):
                shutil.rmtree(stale, ignore_errors=True)

    def _building_dir(self, digest: str, purpose: str) -> Path:
        return self.cache_dir / ".building" / f"{digest}-{purpose}-{os.getpid()}-{threading.get_ident()}"

    def _env_dirs(self) -> list[Path]:
        if not self.cache_dir.is_dir():
            return []
        return [p for p in self.cache_dir.iterdir() if _cache.HASH_NAME.fullmatch(p.name)]

    def _uv_binary(self) -> Path:
        if self._uv is None:
            from uv import find_uv_bin  # imported on first build: core imports stay light

            self._uv = Path(find_uv_bin())
        return self._uv


def _marker_data(request: EnvironmentRequest, digest: str, work: Path, seconds: float) -> dict[str, object]:
    venv = work / "venv"
    site = next(venv.glob("lib/python*/site-packages"))
    return {
        "hash": digest,
        "python": "venv/bin/python",
        "site_packages": str(site.relative_to(work)),
        "python_version": _cache.venv_version(venv),
        "requirements": list(request.requirements),
        "extra_index_urls": list(request.extra_index_urls),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
    }


def _built(env_dir: Path, marker: dict[str, object], *, cache_hit: bool, seconds: float) -> BuiltEnvironment:
    return BuiltEnvironment(
        hash=env_dir.name,
        python=env_dir / str(marker["python"]),
        site_packages=env_dir / str(marker["site_packages"]),
        build_log=env_dir / _cache.BUILD_LOG,
        cache_hit=cache_hit,
        seconds=seconds,
    )
