"""Wake-ups between servers on one PostgreSQL database: LISTEN on a channel, call back on NOTIFY.

The job repository sends ``NOTIFY shipyard_jobs`` in the transaction that creates, cancels
or ends a job (PostgreSQL delivers it at commit); every server's listener wakes its job
runner, so a job submitted through one server starts on whichever has room within a tick
rather than a poll. A listener holds one connection of its own, outside the pool, and
reconnects after a failure; wake-ups lost while it was away are covered by the runners'
polling. SQLite has no NOTIFY: :func:`open_wakeups` gives ``None`` and runners poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import make_url

from shipyard.services.job_ports import WakeUps
from shipyard.stores.sql.jobs import JOBS_CHANNEL

__all__ = ["PostgresWakeUps", "open_wakeups"]

log = logging.getLogger("shipyard.wakeups")

_WAIT_S = 0.25  # how often the listener looks up from its connection to see if it should stop
_RETRY_S = 2.0


def open_wakeups(database_url: str, channel: str = JOBS_CHANNEL) -> WakeUps | None:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return PostgresWakeUps(url.set(drivername="postgresql").render_as_string(hide_password=False), channel)


class PostgresWakeUps(WakeUps):
    def __init__(self, conninfo: str, channel: str = JOBS_CHANNEL) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set once LISTEN is in place (tests wait on it)

    def start(self, wake: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=self._run, args=(wake,), name="shipyard-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_WAIT_S * 3)

    def _run(self, wake: Callable[[], None]) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    self.listening.set()
                    wake()  # whatever was said while we were not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=_WAIT_S, stop_after=1):
                            wake()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("listening on %s failed (%s); retrying in %.0f s", self._channel, exc, _RETRY_S)
                self._stop.wait(_RETRY_S)
