"""Flyway's placeholders, and the part of Flyway's configuration they come from.

Configuration files: ``flyway.conf`` (Java properties: ``flyway.placeholders.schema=app``),
``flyway.toml`` and ``flyway.user.toml`` (``[flyway.placeholders]``, ``[flyway]`` settings,
and ``[environments.NAME.flyway]`` overrides for the environment in use), looked for in the
parent of the migrations folder (and its ``conf/flyway.conf``, the layout of Flyway's command
line), then in the migrations folder itself; a file nearer the scripts overrides one further
away. ``FLYWAY_*`` environment variables override every file, as in Flyway. Of all the
settings, mig reads ``placeholders``, ``placeholderReplacement``, ``placeholderPrefix``,
``placeholderSuffix``, ``table``, ``defaultSchema``, ``schemas`` and ``environment``.

Placeholder names match whatever their case (``${SCHEMA}`` is ``flyway.placeholders.schema``);
``FLYWAY_PLACEHOLDERS_APP_SCHEMA`` defines ``app_schema``, as Flyway lower-cases the names it
takes from the environment. ``${NAME}`` in a ``flyway.conf`` value is the environment variable
``NAME`` when it is set.
"""

from __future__ import annotations

import os
import re
import time
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mig import ConfigError, MigrationFileError

#: Flyway's history table, unless ``flyway.table`` names another.
DEFAULT_TABLE = "flyway_schema_history"
_PLACEHOLDERS = "placeholders"
_ENV_PLACEHOLDER = "FLYWAY_PLACEHOLDERS_"
#: The settings mig reads that an environment variable may set, as Flyway names both.
_ENV_SETTINGS = {
    "FLYWAY_PLACEHOLDER_REPLACEMENT": "placeholderReplacement",
    "FLYWAY_PLACEHOLDER_PREFIX": "placeholderPrefix",
    "FLYWAY_PLACEHOLDER_SUFFIX": "placeholderSuffix",
    "FLYWAY_TABLE": "table",
    "FLYWAY_DEFAULT_SCHEMA": "defaultSchema",
    "FLYWAY_SCHEMAS": "schemas",
}
#: Flyway's docs spell this one in lower case; the upper-case spelling is accepted too.
_ENV_ENVIRONMENT = ("flyway_environment", "FLYWAY_ENVIRONMENT")
_CONF_LINE = re.compile(r"([^=:\s]+)\s*[=:]\s*(.*)")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Built-ins whose value is the connection's, which a folder is read without.
_CONNECTION = {
    "flyway:user": "the user mig connects as",
    "flyway:database": "the database mig connects to",
    "flyway:defaultschema": "the connection's default schema",
}

Raw = dict[str, Any]  # setting -> str, except "placeholders": dict[str, str]


@dataclass(frozen=True)
class Settings:
    """What placeholder replacement needs from Flyway's configuration."""

    placeholders: Mapping[str, str]  # by lower-case name
    replace: bool = True
    prefix: str = "${"
    suffix: str = "}"
    table: str = DEFAULT_TABLE
    default_schema: str | None = None
    environment: str = "default"
    files: tuple[Path, ...] = ()

    def where(self, directory: Path) -> str:
        """Where the placeholders were looked for, for error messages."""
        if self.files:
            return "read from " + ", ".join(str(p) for p in self.files)
        return f"no flyway.conf or flyway.toml in {directory} or {directory.parent}"


def config_files(directory: Path) -> list[Path]:
    """The configuration files read for ``directory``, the weakest first."""
    parent = directory.parent
    found = [parent / "conf" / "flyway.conf"]
    for folder in (parent, directory):
        found += [folder / "flyway.conf", folder / "flyway.toml", folder / "flyway.user.toml"]
    return [p for p in found if p.is_file()]


def _merge(into: Raw, more: Raw) -> None:
    """Settings of ``more`` over those of ``into``; placeholders one by one."""
    for key, value in more.items():
        if key == _PLACEHOLDERS:
            into.setdefault(_PLACEHOLDERS, {}).update(value)
        else:
            into[key] = value


def _logical_lines(text: str) -> Iterator[str]:
    """The lines of a properties file, a line ending in a backslash joined to the next."""
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped[0] in "#!"):
            continue
        if stripped.endswith("\\") and not stripped.endswith("\\\\"):
            pending += stripped[:-1]
            continue
        yield pending + stripped
        pending = ""
    if pending:
        yield pending


def _expand_env(value: str, env: Mapping[str, str]) -> str:
    return _ENV_REFERENCE.sub(lambda m: env.get(m.group(1), m.group(0)), value)


def read_conf(path: Path, env: Mapping[str, str]) -> Raw:
    """The ``flyway.*`` settings of a ``flyway.conf``, without their ``flyway.`` prefix."""
    raw: Raw = {}
    for line in _logical_lines(_read(path)):
        match = _CONF_LINE.fullmatch(line)
        if match is None or not match.group(1).startswith("flyway."):
            continue
        key, value = match.group(1).removeprefix("flyway."), _expand_env(match.group(2), env)
        if key.startswith(_PLACEHOLDERS + "."):
            _merge(raw, {_PLACEHOLDERS: {key.removeprefix(_PLACEHOLDERS + "."): value}})
        else:
            raw[key] = value
    return raw


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _flat(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A TOML table of placeholders as names to texts (``a.b = 1`` is placeholder ``a.b``)."""
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = _text(value)
    return out


def _from_toml_table(table: Mapping[str, Any]) -> Raw:
    raw: Raw = {}
    for key, value in table.items():
        if key == _PLACEHOLDERS and isinstance(value, dict):
            raw[_PLACEHOLDERS] = _flat(value)
        elif not isinstance(value, dict):
            raw[key] = _text(value)
    return raw


def read_toml(path: Path) -> tuple[Raw, dict[str, Raw]]:
    """The ``[flyway]`` settings of a ``flyway.toml``, and each environment's overrides
    (``[environments.NAME.flyway]``)."""
    try:
        data = tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    overrides = {
        name: _from_toml_table(env["flyway"])
        for name, env in (data.get("environments") or {}).items()
        if isinstance(env, dict) and isinstance(env.get("flyway"), dict)
    }
    return _from_toml_table(data.get("flyway") or {}), overrides


def from_environment(env: Mapping[str, str]) -> Raw:
    """The settings ``FLYWAY_*`` environment variables give."""
    raw: Raw = {}
    for key, value in env.items():
        if key.startswith(_ENV_PLACEHOLDER) and len(key) > len(_ENV_PLACEHOLDER):
            _merge(raw, {_PLACEHOLDERS: {key.removeprefix(_ENV_PLACEHOLDER).lower(): value}})
        elif key in _ENV_SETTINGS:
            raw[_ENV_SETTINGS[key]] = value
    return raw


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read Flyway configuration {path}: {exc}") from None


def _environment(raw: Raw, env: Mapping[str, str]) -> str:
    for key in _ENV_ENVIRONMENT:
        if env.get(key):
            return env[key]
    return str(raw.get("environment") or "default")


def _flag(raw: Raw, key: str, files: tuple[Path, ...]) -> bool:
    value = str(raw.get(key, "true")).strip().lower()
    if value not in ("true", "false"):
        raise ConfigError(f"Flyway setting {key} = {raw[key]!r} must be true or false"
                          f" ({', '.join(map(str, files)) or 'environment'})")
    return value == "true"


def _affix(raw: Raw, key: str, default: str) -> str:
    value = str(raw.get(key, default))
    if not value:
        raise ConfigError(f"Flyway setting {key} must not be empty")
    return value


def load_settings(directory: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Flyway's placeholder settings for the scripts of ``directory``."""
    env = os.environ if env is None else env
    files = tuple(config_files(directory))
    raw: Raw = {}
    overrides: dict[str, Raw] = {}
    for path in files:
        if path.suffix == ".toml":
            base, more = read_toml(path)
            _merge(raw, base)
            for name, settings in more.items():
                _merge(overrides.setdefault(name, {}), settings)
        else:
            _merge(raw, read_conf(path, env))
    environment = _environment(raw, env)
    raw.update(overrides.get(environment, {}))  # an override replaces a setting whole
    _merge(raw, from_environment(env))
    schemas = [s.strip() for s in str(raw.get("schemas", "")).split(",") if s.strip()]
    return Settings(
        placeholders={k.lower(): v for k, v in raw.get(_PLACEHOLDERS, {}).items()},
        replace=_flag(raw, "placeholderReplacement", files),
        prefix=_affix(raw, "placeholderPrefix", "${"),
        suffix=_affix(raw, "placeholderSuffix", "}"),
        table=str(raw.get("table") or DEFAULT_TABLE),
        default_schema=str(raw.get("defaultSchema") or "") or (schemas[0] if schemas else None),
        environment=environment,
        files=files,
    )


class Placeholders:
    """Replaces placeholders in the scripts of one folder, as Flyway does before it runs
    them. Built-ins are those of the moment the folder is read (``flyway:timestamp``)."""

    def __init__(self, directory: Path, settings: Settings) -> None:
        self.directory = directory
        self.settings = settings
        self.pattern = re.compile(
            re.escape(settings.prefix) + r"([^\n]+?)" + re.escape(settings.suffix)
        )
        self.common = {
            "flyway:table": settings.table,
            "flyway:environment": settings.environment,
            "flyway:timestamp": time.strftime("%Y-%m-%d %H:%M:%S"),
            "flyway:workingdirectory": os.getcwd(),
            **({"flyway:defaultschema": settings.default_schema}
               if settings.default_schema else {}),
        }

    def replace(self, text: str, path: Path) -> str:
        """``text`` (the whole file ``path``) with its placeholders replaced; an undefined
        placeholder is a :class:`MigrationFileError` naming the file and line."""
        if not self.settings.replace or self.settings.prefix not in text:
            return text
        values = {**self.common, "flyway:filename": path.name}

        def value(match: re.Match[str]) -> str:
            found = self.settings.placeholders.get(match.group(1).lower())
            if found is None:
                found = values.get(match.group(1).lower())
            if found is None:
                line = text.count("\n", 0, match.start()) + 1
                raise MigrationFileError(self._undefined(match.group(0), match.group(1)),
                                         path, line)
            return found

        return self.pattern.sub(value, text)

    def _undefined(self, written: str, name: str) -> str:
        known = _CONNECTION.get(name.lower())
        if known is not None:
            hint = (" (or set flyway.defaultSchema / flyway.schemas, or FLYWAY_DEFAULT_SCHEMA)"
                    if name.lower() == "flyway:defaultschema" else "")
            return (f"no value for placeholder {written}: it is {known}, which mig does not"
                    " fill in (it reads the folder once for every database it runs on, before"
                    " connecting); write the value, or use a placeholder of your own"
                    f"{hint}")
        if name.lower().startswith("flyway:"):
            return f"no value for placeholder {written}: not one of Flyway's built-ins"
        env_name = _ENV_PLACEHOLDER + re.sub(r"\W", "_", name).upper()
        return (f"no value provided for placeholder {written}: define it as"
                f" flyway.placeholders.{name} (flyway.conf), under [flyway.placeholders]"
                f" (flyway.toml) or as {env_name}"
                f" ({self.settings.where(self.directory)})")
