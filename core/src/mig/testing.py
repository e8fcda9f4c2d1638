"""A small pytest plugin for testing mig and its plugins (load it with ``-p mig.testing``).

Fixtures:

``mig_project``
    A fresh project folder ``tmp_path/project``: ``mig.toml`` pointing at the SQLite file
    ``app.db`` beside it, ``backup = "none"``, and an empty ``migrations/`` folder. See
    :class:`Project` for its helpers (``write_migration``, ``run``, ``ok``, ``popen``,
    ``engine``, ``migrate``, ``query``, ``tables``, ``executions``, ``applied``).
``example_project``
    The same in ``tmp_path/example``, holding a copy of the repository's bundled
    ``migrations/`` (the trading schema).
``register_plugin``
    ``register_plugin(plugin, plugins=None, name=None)`` registers a module or object with
    hook implementations on a :class:`mig.plugins.Plugins` (a fresh one when not given,
    without entry-point autoloading) and returns that manager. Every plugin registered this
    way is unregistered after the test, whatever its outcome.

Everything runs for real: SQLite files on disk and the CLI in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import pytest

if TYPE_CHECKING:
    from .engine import MigrationEngine
    from .plugins import Plugins

#: Runs the CLI exactly as the ``mig`` console script does.
_CLI = "import sys; sys.argv[0] = 'mig'; from mig.cli import main; main()"
#: Environment variables a test's CLI run must not inherit from the developer's shell.
_SCRUBBED = ("MIG_DATABASE", "MIG_DISABLE_PLUGIN_AUTOLOAD")

DEFAULT_CONFIG = """\
[mig]
database = "sqlite:///app.db"
migrations_dir = "migrations"
backups_dir = "backups"
backup = "none"
lock_timeout = 10
"""


#: Set (as .ci/run does) to make tests fail, not skip, when a database server is unreachable.
REQUIRE_SERVERS_ENV = "MIG_REQUIRE_SERVERS"


def server_unavailable(problem: str) -> NoReturn:
    """Skip the running test because its database server cannot be used, or fail it when
    ``MIG_REQUIRE_SERVERS`` is set, so CI never passes by skipping the server tests."""
    if os.environ.get(REQUIRE_SERVERS_ENV, "") not in ("", "0", "false"):
        pytest.fail(f"{problem} ({REQUIRE_SERVERS_ENV} is set)")
    pytest.skip(problem)

class Result(NamedTuple):
    """What a CLI run gave: unpack it as ``code, out, err = project.run(...)``."""

    code: int
    out: str
    err: str


def header_block(name: str, headers: Mapping[str, Any]) -> str:
    """``-- @key: value`` lines; lists become JSON and booleans ``true``/``false``."""
    import json

    lines = [f"-- @name: {name}"]
    for key, value in headers.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = json.dumps(list(value))
        lines.append(f"-- @{key}: {value}")
    return "\n".join(lines) + "\n"


class Project:
    """A temporary mig project: a folder with ``mig.toml``, ``migrations/`` and ``app.db``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.config_path = path / "mig.toml"
        self.migrations_dir = path / "migrations"
        self.db_path = path / "app.db"
        self.migrations_dir.mkdir(parents=True, exist_ok=True)
        self.write_config()

    # -- files --------------------------------------------------------------------------------

    def write_config(self, text: str = DEFAULT_CONFIG, **settings: Any) -> Path:
        """Write ``mig.toml``: ``text`` with ``settings`` set in its ``[mig]`` table (a dict
        value becomes a sub-table such as ``retention={"keep_days": 1}``)."""
        if settings:
            import tomllib

            import tomli_w

            data = tomllib.loads(text)
            data.setdefault("mig", {}).update(settings)
            text = tomli_w.dumps(data)
        self.config_path.write_text(text, encoding="utf-8")
        return self.config_path

    def write_migration(
        self,
        filename: str,
        up: str = "",
        down: str | None = "",
        headers: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        newline: str = "\n",
    ) -> Path:
        """Write ``migrations/<filename>`` (``.sql`` added when missing) with a ``@name``
        (from the file name unless given), the ``headers``, ``-- UP`` then ``up``, and
        ``-- DOWN`` then ``down`` (no DOWN marker at all when ``down`` is None)."""
        if not filename.endswith(".sql"):
            filename += ".sql"
        title = name or filename.removesuffix(".sql").split("_", 1)[-1].replace("_", " ")
        text = header_block(title, headers or {}) + "\n-- UP\n" + up.strip("\n") + "\n"
        if down is not None:
            text += "\n-- DOWN\n" + down.strip("\n") + "\n"
        path = self.migrations_dir / filename
        path.write_bytes(text.replace("\n", newline).encode("utf-8"))
        return path

    def table_migration(
        self, version: str, table: str, deps: Sequence[str] = (), **headers: Any
    ) -> Path:
        """A migration ``<version>_create_<table>`` that creates and drops one table."""
        return self.write_migration(
            f"{version}_create_{table}",
            f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, note TEXT);",
            f"DROP TABLE {table};",
            {"dependencies": list(deps), **headers},
        )

    # -- running ------------------------------------------------------------------------------

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update(extra or {})
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", _CLI, *map(str, args)]

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
        input: str | None = None,
    ) -> Result:
        """Run ``mig *args`` in a subprocess with the project as working directory."""
        proc = subprocess.run(
            self.command(*args),
            cwd=cwd or self.path,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run ``mig *args``, fail the test unless it exits 0, and return its stdout."""
        result = self.run(*args, env=env)
        if result.code != 0:
            pytest.fail(f"mig {' '.join(args)} exited {result.code}: {result.err.strip()}")
        return result.out

    def popen(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start ``mig *args`` without waiting (for killed and concurrent runs)."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.path,
            env=self.env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def engine(self, **kwargs: Any) -> MigrationEngine:
        """A :class:`MigrationEngine` on this project's ``mig.toml``."""
        from .engine import MigrationEngine

        return MigrationEngine.from_config(self.config_path, **kwargs)

    # -- looking at the database --------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` on ``app.db``, opened read-only (never creates the file)."""
        conn = sqlite3.connect(self._ro_uri(), uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def _ro_uri(self) -> str:
        from urllib.parse import quote

        return f"file:{quote(str(self.db_path))}?mode=ro"

    def tables(self) -> set[str]:
        """Names of the tables in ``app.db`` (empty when the file does not exist)."""
        if not self.db_path.exists():
            return set()
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return {name for (name,) in rows}

    def applied(self) -> list[str]:
        """Ids of the migrations in effect, in the order they were applied."""
        return [
            r["migration_id"] for r in self.executions()
            if r["operation"] == "apply" and r["status"] == "COMPLETED"
        ]

    def migrate(self, target: str | None = None, *, only: bool = False) -> None:
        """Apply pending migrations in-process (quicker than ``run("up")`` for set-up): all,
        up to ``target``, or (``only``) just ``target`` and its dependencies."""
        with self.engine() as engine:
            executions = engine.up(target, only=only)
        failed = [e for e in executions if e.status.value != "COMPLETED"]
        if failed:
            pytest.fail(f"{failed[0].migration_id} failed: {failed[0].error_message}")

    def executions(self, migration_id: str | None = None) -> list[dict[str, Any]]:
        """Rows of ``mig_migration_executions`` as dicts, oldest first (the default
        ``table_prefix``)."""
        if "mig_migration_executions" not in self.tables():
            return []
        conn = sqlite3.connect(self._ro_uri(), uri=True)
        conn.row_factory = sqlite3.Row
        try:
            sql = "SELECT * FROM mig_migration_executions"
            params: tuple[str, ...] = ()
            if migration_id is not None:
                sql += " WHERE migration_id = ?"
                params = (migration_id,)
            return [dict(r) for r in conn.execute(sql + " ORDER BY seq", params)]
        finally:
            conn.close()


@pytest.fixture
def mig_project(tmp_path: Path) -> Project:
    """An empty mig project in ``tmp_path/project`` (SQLite, no backups)."""
    return Project(tmp_path / "project")


def bundled_migrations(config: pytest.Config) -> Path | None:
    """The repository's ``migrations/`` folder, found from pytest's rootdir."""
    candidate = Path(config.rootpath) / "migrations"
    return candidate if candidate.is_dir() else None


@pytest.fixture
def example_project(tmp_path: Path, request: pytest.FixtureRequest) -> Project:
    """A project holding a copy of the bundled trading example's migrations."""
    source = bundled_migrations(request.config)
    if source is None:
        pytest.skip("the bundled migrations/ folder is not next to this test run")
    project = Project(tmp_path / "example")
    shutil.rmtree(project.migrations_dir)
    shutil.copytree(source, project.migrations_dir)
    return project


@pytest.fixture
def register_plugin() -> Iterator[Any]:
    """Register fake plugins for one test; they are always unregistered afterwards."""
    from .plugins import Plugins

    registered: list[tuple[Plugins, str]] = []

    def register(
        plugin: object, plugins: Plugins | None = None, name: str | None = None
    ) -> Plugins:
        if plugins is None:
            plugins = Plugins(autoload=False)
        plugins.load()
        plugin_name = name or f"test-plugin-{len(registered)}-{id(plugin):x}"
        plugins.register(plugin, name=plugin_name)
        registered.append((plugins, plugin_name))
        return plugins

    yield register
    for plugins, plugin_name in reversed(registered):
        if plugins.pm.get_plugin(plugin_name) is not None:
            plugins.unregister(plugin_name)
