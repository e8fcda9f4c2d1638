"""Linting a mig project: its configured dialect and ``[mig.options.lint]``, the migrations
asked for, and the rules every plugin registers. No database connection is made."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mig import ConfigError, UnknownTargetError

from .model import Finding, LintContext, Rule, Severity
from .runner import collect_rules, lint

if TYPE_CHECKING:
    from mig import Migration, MigrationEngine, Statement

#: Dialect names and URL schemes -> the dialect ``mig lint`` checks for.
DIALECT_ALIASES = {
    "sqlite": "sqlite", "sqlite3": "sqlite", "postgresql": "postgresql",
    "postgres": "postgresql", "pg": "postgresql", "mysql": "mysql", "mariadb": "mysql",
}

#: The keys of ``[mig.options.lint]``.
OPTION_KEYS = frozenset({"disable", "postgres_version"})


@dataclass(frozen=True)
class LintReport:
    dialect: str
    migrations: int
    rules: list[Rule]
    findings: list[Finding]

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)


def lint_project(
    engine: MigrationEngine,
    targets: Sequence[str] = (),
    *,
    dialect: str | None = None,
    postgres_version: int | None = None,
) -> LintReport:
    """Lint the migrations of ``engine``'s project (``targets``: ids, versions or file paths;
    all when empty) for ``dialect`` (default: the database URL's scheme)."""
    every = engine.migrations()  # parses the files and loads the plugins
    name = resolve_dialect(dialect, engine.config.database)
    settings = engine.config.options.get("lint", {})
    unknown_keys = sorted(set(settings) - OPTION_KEYS)
    if unknown_keys:
        raise ConfigError(f"[mig.options.lint] has no option {unknown_keys[0]!r} (known: "
                          f"{', '.join(sorted(OPTION_KEYS))})")
    disabled = settings.get("disable", [])
    if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
        raise ConfigError("[mig.options.lint] disable must be a list of rule ids")
    version = postgres_version if postgres_version is not None else settings.get(
        "postgres_version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ConfigError("[mig.options.lint] postgres_version must be an integer")
    chosen = select(engine, every, targets)
    rules = collect_rules(engine.plugins.hook.mig_register_lint_rules())
    unknown = sorted(set(disabled) - {r.id for r in rules})
    if unknown:
        raise ConfigError(f"[mig.options.lint] disable names unknown rule {unknown[0]!r}")
    context = LintContext(name, version, dict(settings))
    findings = lint(chosen, splitter(engine, name), rules, context, disabled)
    return LintReport(name, len(chosen), rules, findings)


def resolve_dialect(option: str | None, url: str | None) -> str:
    """The dialect named by ``--dialect``, else by the database URL's scheme."""
    if option is not None:
        if option.lower() not in DIALECT_ALIASES:
            raise ConfigError(f"--dialect must be sqlite, postgresql or mysql, not {option!r}")
        return DIALECT_ALIASES[option.lower()]
    if not url:
        raise ConfigError("no database configured to take the dialect from: pass --dialect")
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in DIALECT_ALIASES:
        raise ConfigError(f"mig lint knows no dialect for {scheme}:// URLs; pass --dialect")
    return DIALECT_ALIASES[scheme]


def splitter(engine: MigrationEngine, dialect: str) -> Callable[[Migration, str], list[Statement]]:
    """Splits a section as it runs (a format's ready pieces split again: goose blocks, Flyway
    placeholders replaced), for ``dialect`` (see :meth:`MigrationEngine.split`)."""

    def split(migration: Migration, section: str) -> list[Statement]:
        return engine.split(migration, section, dialect)

    return split


def select(
    engine: MigrationEngine, every: list[Migration], wanted: Sequence[str]
) -> list[Migration]:
    """The migrations named (id, version or file path), in plan order; all when none is."""
    if not wanted:
        return every
    chosen: set[str] = set()
    by_path = {m.path.resolve(): m for m in every}
    for item in wanted:
        path = Path(item)
        if path.suffix and path.exists():
            if path.resolve() not in by_path:
                raise UnknownTargetError(
                    f"{item} is not a migration of {engine.config.migrations_dir}")
            chosen.add(by_path[path.resolve()].id)
        else:
            chosen.add(engine.resolve_target(item).id)
    return [m for m in every if m.id in chosen]
