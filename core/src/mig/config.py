"""Configuration: ``mig.toml`` or ``[tool.mig]`` in ``pyproject.toml`` (SPEC §5, §10)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_FILE = "mig.toml"
DATABASE_ENV = "MIG_DATABASE"

#: Values that need no plugin: ``none`` takes no backup, ``auto`` picks down or restore.
NO_BACKUP = "none"
AUTO_ROLLBACK = "auto"
OUT_OF_ORDER_CHOICES = ("allow", "error")
_PREFIX = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*)?")
_FORMAT = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass
class Config:
    """Validated settings. Paths are absolute; ``database`` is the URL as written."""

    database: str | None = None
    migrations_dir: Path = field(default_factory=lambda: Path("migrations").resolve())
    backups_dir: Path = field(default_factory=lambda: Path("backups").resolve())
    backup: str = "full"
    rollback: str = "auto"
    table_prefix: str = "mig_"
    lock_timeout: float = 30.0
    out_of_order: str = "allow"
    executor: str | None = None
    storage: str = "local"
    keep_days: int = 30
    keep_count: int = 10
    disable: list[str] = field(default_factory=list)
    #: How the migrations folder is written: ``mig`` (mig's own files), ``auto`` (a plugin
    #: recognises another tool's folder) or a format a plugin reads (``golang-migrate``, ...).
    migrations_format: str = "mig"
    #: A file holding the key backup manifests are signed with (``MIG_BACKUP_KEY`` wins).
    backup_key_file: Path | None = None
    #: Files of earlier keys whose signatures still verify (see :mod:`mig.signing`).
    backup_old_key_files: list[Path] = field(default_factory=list)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Folder that relative paths and sqlite URLs in the config file are relative to.
    base_dir: Path = field(default_factory=Path.cwd)
    #: Folder a URL from ``--database``/``MIG_DATABASE`` is relative to.
    database_base_dir: Path = field(default_factory=Path.cwd)
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# key -> (type(s), allowed values or None)
_MIG_KEYS: dict[str, tuple[type | tuple[type, ...], tuple[str, ...] | None]] = {
    "database": (str, None),
    "migrations_dir": (str, None),
    "backups_dir": (str, None),
    # Plugins may register more backup types and rollback methods, so these two are checked
    # against what is installed when the engine starts (MigrationEngine.check_names).
    "backup": (str, None),
    "rollback": (str, None),
    "table_prefix": (str, None),
    "lock_timeout": ((int, float), None),
    "out_of_order": (str, OUT_OF_ORDER_CHOICES),
    "executor": (str, None),
    "storage": (str, None),
    "backup_key_file": (str, None),
    "backup_old_key_files": (list, None),
    # Formats come from plugins (mig_load_migrations), so only the spelling is checked here;
    # the loader refuses a name no installed plugin reads.
    "migrations_format": (str, None),
}
_TABLES: dict[str, dict[str, type]] = {
    "retention": {"keep_days": int, "keep_count": int}, "plugins": {"disable": list},
}


def find_config_file(explicit: str | os.PathLike[str] | None, cwd: Path) -> tuple[Path, str]:
    """Return the config file and how to read it (``"mig"`` or ``"pyproject"``)."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path.resolve(), "pyproject" if path.name == "pyproject.toml" else "mig"
    candidate = cwd / CONFIG_FILE
    if candidate.is_file():
        return candidate.resolve(), "mig"
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        return pyproject.resolve(), "pyproject"
    raise FileNotFoundError


def load_config(
    explicit: str | os.PathLike[str] | None = None,
    *,
    database: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load and validate the configuration with the precedence of SPEC §10."""
    cwd = (cwd or Path.cwd()).resolve()
    environ = os.environ if environ is None else environ
    table: dict[str, Any] = {}
    path: Path | None = None
    try:
        path, kind = find_config_file(explicit, cwd)
    except FileNotFoundError:
        kind = ""
    if path is not None:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
        except RecursionError:  # tomllib nests by recursion: x = [[[[...]]]]
            raise ConfigError(f"{path}: invalid TOML: arrays or tables nest too deeply") from None
        if kind == "pyproject":
            table = data.get("tool", {}).get("mig", {})
            if explicit is None and not table:
                path = None  # a pyproject.toml without [tool.mig] is not our config
        else:
            table = data.get("mig", {})
            unknown = sorted(set(data) - {"mig"})
            if unknown:
                raise ConfigError(f"{path}: unknown table [{unknown[0]}] (settings go under [mig])")
    base = path.parent if path is not None else cwd
    config = from_table(table, base_dir=base, source=str(path or "defaults"))
    config.path = path
    override = database or environ.get(DATABASE_ENV)
    if override:
        config.database = override
        config.database_base_dir = cwd
    return config


def from_table(table: dict[str, Any], *, base_dir: Path, source: str = "config") -> Config:
    """Validate a ``[mig]`` table (already parsed) into a :class:`Config`."""
    config = Config(base_dir=base_dir, database_base_dir=base_dir)
    config.migrations_dir = (base_dir / "migrations").resolve()
    config.backups_dir = (base_dir / "backups").resolve()
    value: Any  # checked one key at a time below
    for key, value in table.items():
        if key in _TABLES:
            _check_table(key, value, config, source)
            continue
        if key == "options":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ConfigError(f"{source}: [mig.options] must hold one table per plugin")
            config.options = value
            continue
        if key not in _MIG_KEYS:
            raise ConfigError(f"{source}: unknown key {key!r} in [mig]")
        types, allowed = _MIG_KEYS[key]
        if not _is(value, types):
            want = types.__name__ if isinstance(types, type) else "number"
            raise ConfigError(f"{source}: {key} must be a {want}, not {value!r}")
        if allowed is not None and value not in allowed:
            raise ConfigError(
                f"{source}: {key} = {value!r} is not one of {', '.join(allowed)}"
            )
        if key in ("migrations_dir", "backups_dir", "backup_key_file"):
            value = (base_dir / value).resolve()
        elif key == "backup_old_key_files":
            if not all(isinstance(x, str) for x in value):
                raise ConfigError(f"{source}: backup_old_key_files must be a list of file names")
            value = [(base_dir / x).resolve() for x in value]
        elif key == "lock_timeout":
            if value < 0:
                raise ConfigError(f"{source}: lock_timeout must not be negative")
            value = float(value)
        elif key == "table_prefix" and not _PREFIX.fullmatch(value):
            # It is spliced into SQL unquoted, in every dialect.
            raise ConfigError(
                f"{source}: table_prefix = {value!r} must be letters, digits and underscores,"
                " not starting with a digit"
            )
        elif key == "migrations_format" and not _FORMAT.fullmatch(value):
            raise ConfigError(
                f"{source}: migrations_format = {value!r} must be mig, auto or a format name"
                " (lowercase letters, digits, - and _)"
            )
        setattr(config, key, value)
    return config


def _is(value: Any, types: Any) -> bool:
    """``isinstance`` for TOML values, where a boolean is never a number."""
    return isinstance(value, types) and not isinstance(value, bool)


def _check_table(name: str, value: Any, config: Config, source: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [mig.{name}] must be a table")
    allowed = _TABLES[name]
    item: Any  # checked one key at a time below
    for key, item in value.items():
        if key not in allowed:
            raise ConfigError(f"{source}: unknown key {key!r} in [mig.{name}]")
        want = allowed[key]
        if not _is(item, want):
            raise ConfigError(f"{source}: {name}.{key} must be a {want.__name__}, not {item!r}")
        if want is int and item < 0:
            raise ConfigError(f"{source}: {name}.{key} must not be negative")
        if want is list and not all(isinstance(x, str) for x in item):
            raise ConfigError(f"{source}: {name}.{key} must be a list of plugin names")
        setattr(config, key, item)


def default_toml(database: str) -> dict[str, Any]:
    """The document ``mig init`` writes."""
    return {
        "mig": {
            "database": database,
            "migrations_dir": "migrations",
            "backups_dir": "backups",
            "backup": "full",
            "rollback": "auto",
            "table_prefix": "mig_",
            "lock_timeout": 30,
            "out_of_order": "allow",
            "retention": {"keep_days": 30, "keep_count": 10},
            "plugins": {"disable": []},
        }
    }
