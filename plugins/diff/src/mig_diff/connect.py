"""One database to compare: mig's dialect for it (URL checks, existence, schema snapshots)
and a SQLAlchemy engine on it, made with the driver the dialect plugin already brings
(psycopg 3 for ``postgresql+psycopg://``, PyMySQL for ``mysql+pymysql://``, the standard
library's ``sqlite3``, read-only)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mig.errors import ConfigError, DatabaseError, MigError

if TYPE_CHECKING:
    from mig.plugins import Plugins
    from mig.protocols import Dialect
    from mig.schema import Snapshot
    from sqlalchemy.engine import Engine

#: SQLAlchemy's driver name for the URLs of each mig dialect.
DRIVERS = {"postgres": "postgresql+psycopg", "mysql": "mysql+pymysql"}


@dataclass
class Side:
    """One of the two databases of a comparison."""

    url: str
    dialect: Dialect
    engine: Engine

    @property
    def kind(self) -> str:
        """The mig dialect's name (``sqlite``, ``postgres``, ``mysql``)."""
        return self.dialect.name

    def display_url(self) -> str:
        return self.dialect.display_url()

    def snapshot(self, prefix: str) -> Snapshot:
        """mig's normalised schema snapshot of the database, mig's tables left out."""
        self.dialect.connect(readonly=True)
        try:
            return self.dialect.schema_snapshot(exclude_prefix=prefix)
        finally:
            self.dialect.close()


@contextmanager
def open_side(
    plugins: Plugins, url: str, *, base_dir: Path, options: dict[str, dict[str, Any]]
) -> Iterator[Side]:
    """The database at ``url`` (a mig URL), which must exist: a ConfigError (exit 2) for a
    URL no dialect takes or that its dialect cannot read, a DatabaseError for a missing
    database."""
    cls = plugins.dialect_for(url)
    dialect: Dialect = cls(url, base_dir=base_dir, options=options.get(cls.name, {}))
    if cls.name not in (*DRIVERS, "sqlite"):
        raise ConfigError(f"mig diff does not support the {cls.name} dialect")
    try:
        exists = dialect.exists()
    except MigError:
        raise
    except Exception as exc:  # a driver's error the dialect did not turn into its own
        raise DatabaseError(f"cannot reach {dialect.display_url()}: {_one_line(exc)}") from None
    if not exists:
        raise DatabaseError(f"database {dialect.display_url()} does not exist")
    engine = _engine(cls.name, url, base_dir)
    try:
        yield Side(url, dialect, engine)
    finally:
        engine.dispose()
        dialect.close()


def _engine(kind: str, url: str, base_dir: Path) -> Engine:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    if kind == "sqlite":
        path = sqlite_path(url, base_dir)
        uri = f"file:{quote(str(path))}?mode=ro"
        return create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
        )
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"cannot read the URL {_mask(url)}: {_one_line(exc)}") from None
    query = dict(parsed.query)
    connect_args: dict[str, Any] = {}
    schema = query.pop("schema", None)
    if kind == "postgres" and schema:
        name = schema if isinstance(schema, str) else schema[0]
        connect_args["options"] = f"-c search_path={name}"
    parsed = parsed.set(drivername=DRIVERS[kind], query=query)
    return create_engine(parsed, connect_args=connect_args, poolclass=NullPool)


def sqlite_path(url: str, base_dir: Path) -> Path:
    """The file a ``sqlite:///path`` URL names, as mig's SQLite dialect reads it (relative
    to ``base_dir``, taken literally)."""
    path = url.partition("://")[2][1:]
    if path == ":memory:":
        raise ConfigError("mig diff cannot compare an in-memory SQLite database")
    return Path(os.path.realpath(base_dir / path))


def _mask(url: str) -> str:
    from mig.urls import mask_url

    return mask_url(url)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
