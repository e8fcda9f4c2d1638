"""One database: its dialect's connection, opened read-only or read-write on demand, the
ledger on it, transactions and the migration lock. The engine, the run loop and the backup
service share one :class:`Database`; none of them reaches into another's state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .ledger import Ledger
from .protocols import Dialect


class Database:
    """The connection to one database and the ledger on it."""

    def __init__(self, dialect: Dialect, prefix: str) -> None:
        self.dialect = dialect
        self.prefix = prefix
        self._mode: str | None = None  # "ro" or "rw" once connected
        self._ledger: Ledger | None = None

    def reader(self) -> Ledger | None:
        """The ledger for reading, connected read-only unless already connected; None when
        the database or its ledger does not exist yet (nothing is created)."""
        if self._mode is None:
            if not self.dialect.exists():
                return None
            self.dialect.connect(readonly=True)
            self._mode = "ro"
            self._ledger = Ledger(self.dialect, self.prefix)
        ledger = self._ledger
        assert ledger is not None
        if self._mode == "ro" and not ledger.exists():
            return None
        return ledger

    def writer(self) -> Ledger:
        """The ledger, connected read-write, its tables created if missing."""
        if self._mode != "rw":
            self.reconnect()
            assert self._ledger is not None
            self._ledger.ensure()
        assert self._ledger is not None
        return self._ledger

    def reconnect(self) -> Ledger:
        """Reopen the connection read-write (a restore may have replaced the database). The
        ledger object stays the same, its cached contents dropped."""
        if self._mode is not None:
            self.dialect.close()
        self.dialect.connect()
        self._mode = "rw"
        if self._ledger is None:
            self._ledger = Ledger(self.dialect, self.prefix)
        self._ledger.forget()
        return self._ledger

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """A transaction on the read-write connection: committed when the block ends,
        rolled back (and the ledger's cache dropped) when it raises."""
        ledger = self.writer()
        self.dialect.begin()
        try:
            yield ledger
            self.dialect.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Roll back whatever transaction is open on the connection, the engine's or one a
        migration opened itself, and forget what the ledger cached inside it."""
        self.dialect.rollback()
        if self._ledger is not None:
            self._ledger.forget()

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Hold the migration lock. Another process may have written while this one waited or
        sat idle, so nothing cached about the tables' contents survives taking it."""
        with self.dialect.lock(timeout):
            if self._ledger is not None:
                self._ledger.forget()
            yield

    def close(self) -> None:
        if self._mode is not None:
            self.dialect.close()
        self._mode = None
        self._ledger = None
