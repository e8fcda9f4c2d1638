"""The plugin manager: finds plugins through the ``mig`` entry-point group and gives the core a
typed facade over the hooks, so core code never calls ``pm.hook.*`` untyped."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from . import hookspecs
from .errors import ConfigError, PluginError
from .protocols import BackupStrategy, Dialect, RollbackMethod, StorageTarget

if TYPE_CHECKING:
    from .config import Config
    from .models import Migration, MigrationExecution, Problem, Statement
    from .protocols import Context, Dialect, Executor

ENTRY_POINT_GROUP = "mig"
#: Set to 1 to load no plugins from entry points (tests register their own).
AUTOLOAD_ENV = "MIG_DISABLE_PLUGIN_AUTOLOAD"

T = TypeVar("T")


@dataclass
class PluginInfo:
    """What ``mig plugins`` shows for one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    api_version: int | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Plugins:
    """Loads plugins once, lazily, and forwards typed calls to their hooks."""

    def __init__(self, disable: Iterable[str] = (), autoload: bool | None = None) -> None:
        self.pm = pluggy.PluginManager("mig")
        self.pm.add_hookspecs(hookspecs)
        self.disabled = set(disable)
        self.autoload = (os.environ.get(AUTOLOAD_ENV, "") not in ("1", "true")) if (
            autoload is None
        ) else autoload
        self.infos: dict[str, PluginInfo] = {}
        self._loaded = False
        self._registries: dict[str, dict[str, Any]] = {}

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> Plugins:
        if self._loaded:
            return self
        self._loaded = True
        from . import graph

        self.register(graph, name="graph")
        if self.autoload:
            self._load_entry_points()
            self._check_requirements()
        return self

    def _load_entry_points(self) -> None:
        from .caches import entry_points

        for name, value, dist, version in entry_points(ENTRY_POINT_GROUP):
            if name in self.disabled or self.pm.get_plugin(name) is not None:
                continue
            info = PluginInfo(name=name, distribution=dist, version=version)
            self.infos[name] = info
            try:
                plugin = _load_object(value)
                self.register(plugin, name=name, info=info)
            except PluginError as exc:  # a broken plugin must not break unrelated commands
                info.error = str(exc)
            except Exception as exc:
                info.error = f"plugin {self._label(info)} cannot be imported: " + (
                    f"{type(exc).__name__}: {exc}"
                )

    def _check_requirements(self) -> None:
        """Unload plugins whose ``MIG_REQUIRES`` names a plugin that is not loaded."""
        changed = True
        while changed:
            changed = False
            for name, info in list(self.infos.items()):
                plugin = self.pm.get_plugin(name)
                if plugin is None or info.error:
                    continue
                for needed in getattr(plugin, "MIG_REQUIRES", ()):
                    if self.pm.get_plugin(needed) is None:
                        why = "disabled in [mig.plugins]" if needed in self.disabled else (
                            "not installed" if needed not in self.infos else "broken"
                        )
                        info.error = f"plugin {self._label(info)} needs {needed!r}, which is {why}"
                        self.pm.unregister(name=name)
                        changed = True
                        break

    @staticmethod
    def _label(info: PluginInfo) -> str:
        dist = f" ({info.distribution} {info.version})" if info.distribution else ""
        return f"{info.name!r}{dist}"

    def register(self, plugin: object, name: str, info: PluginInfo | None = None) -> None:
        """Register ``plugin`` (a module or object with hook implementations).

        Refuses, with a :class:`PluginError` naming the plugin, one that needs another plugin
        API version, implements a hook with arguments the hook does not have, or implements
        a ``mig_`` hook that does not exist (a misspelt name)."""
        info = info or self.infos.get(name) or PluginInfo(name=name)
        label = self._label(info)
        required = getattr(plugin, "MIG_API_VERSION", None)
        info.api_version = required
        if required is not None and not (
            isinstance(required, int)
            and hookspecs.MIN_API_VERSION <= required <= hookspecs.API_VERSION
        ):
            raise PluginError(
                f"plugin {label} needs mig plugin API {required!r}; this mig-core supports "
                f"{hookspecs.MIN_API_VERSION} to {hookspecs.API_VERSION}"
            )
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {label} has a hook with a wrong signature: {exc}") from None
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = sorted(c.name for c in callers if not c.has_spec() and c.name.startswith("mig_"))
        if unknown:
            self.pm.unregister(plugin)
            raise PluginError(f"plugin {label} implements {unknown[0]}, which is not a mig hook")
        info.hooks = sorted(c.name for c in callers)
        self.infos[name] = info
        self._registries.clear()

    def problems_note(self) -> str:
        """Why an expected plugin may be missing: the broken and the disabled ones."""
        broken = [i.error for i in self.infos.values() if i.error]
        notes = []
        if broken:
            notes.append("plugins that failed to load: " + "; ".join(broken))
        if self.disabled:
            notes.append("disabled: " + ", ".join(sorted(self.disabled)))
        return f" ({'; '.join(notes)})" if notes else ""

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)
        self._registries.clear()

    def plugin_infos(self) -> list[PluginInfo]:
        self.load()
        return sorted(self.infos.values(), key=lambda i: i.name)

    @property
    def hook(self) -> Any:
        return self.load().pm.hook

    # -- registries ---------------------------------------------------------------------------

    def _registry(self, hook_name: str, what: str, protocol: type | None) -> dict[str, Any]:
        """The classes registered through ``hook_name``, by name. Each must subclass
        ``protocol`` explicitly (None: any factory will do), so that it has the defaults of
        the protocol's optional members; two classes with one name are refused."""
        if hook_name in self._registries:
            return self._registries[hook_name]
        caller = getattr(self.hook, hook_name)
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for impl in reversed(caller.get_hookimpls()):
            for cls in impl.function() or ():
                if protocol is not None and not (
                    isinstance(cls, type) and protocol in cls.__mro__
                ):
                    shown = (
                        f"{cls.__module__}.{cls.__qualname__}" if isinstance(cls, type)
                        else repr(cls)
                    )
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} registers the {what} class {shown},"
                        f" which does not subclass mig.protocols.{protocol.__name__}"
                    )
                name = cls.name
                if name in found and found[name] is not cls:
                    raise PluginError(
                        f"two plugins register the {what} {name!r}: "
                        f"{owners[name]!r} and {impl.plugin_name!r}"
                    )
                found[name] = cls
                owners[name] = impl.plugin_name
        self._registries[hook_name] = found
        return found

    def names(self, hook_name: str) -> set[str]:
        """Every name registered through ``hook_name``, conflicts included: to check a
        configured name without failing where no registry is used yet."""
        return {
            cls.name
            for impl in getattr(self.hook, hook_name).get_hookimpls()
            for cls in impl.function() or ()
        }

    def check_names(self, backup: str | None, rollback: str | None, where: str | None) -> None:
        """Refuse a backup type or rollback method no plugin registers (a ConfigError naming
        the allowed values); ``where`` names the config file the values come from, or None
        for command-line options."""
        for key, value, hook, extra in (
            ("backup", backup, "mig_register_backup_types", "none"),
            ("rollback" if where is not None else "method", rollback,
             "mig_register_rollback_methods", "auto"),
        ):
            allowed = sorted({*self.names(hook), extra})
            if value is not None and value not in allowed:
                label = f"{where}{key}" if where is not None else f"--{key}"
                raise ConfigError(f"{label} = {value!r} is not one of {', '.join(allowed)}"
                                  + self.problems_note())

    def dialects(self) -> dict[str, Any]:
        return self._registry("mig_register_dialects", "dialect", Dialect)

    def executors(self) -> dict[str, Any]:
        # Executors are factories (usually classes, but any callable will do): not checked.
        return self._registry("mig_register_executors", "executor", None)

    def backup_types(self) -> dict[str, Any]:
        return self._registry("mig_register_backup_types", "backup type", BackupStrategy)

    def storage_targets(self) -> dict[str, Any]:
        return self._registry("mig_register_storage_targets", "storage target", StorageTarget)

    def rollback_methods(self) -> dict[str, Any]:
        return self._registry("mig_register_rollback_methods", "rollback method", RollbackMethod)

    def dialect_for(self, url: str) -> Any:
        scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if ":" in url else ""
        owners: dict[str, Any] = {}
        for cls in self.dialects().values():
            for s in cls.schemes:
                if s in owners:
                    raise PluginError(
                        f"dialects {owners[s].name!r} and {cls.name!r} both claim {s}:// URLs"
                    )
                owners[s] = cls
        if scheme not in owners:
            known = ", ".join(sorted(owners)) or "none installed"
            raise ConfigError(
                f"no dialect plugin handles {scheme or url!r} URLs (known: {known})"
                + self.problems_note()
            )
        return owners[scheme]

    def dialect(self, config: Config) -> Dialect:
        """The dialect for the configured database URL, made with its options."""
        assert config.database is not None
        cls = self.dialect_for(config.database)
        made: Dialect = cls(config.database, base_dir=config.database_base_dir,
                            options=config.options.get(cls.name, {}))
        return made

    def executor(self, inner: Executor, config: Config) -> Executor:
        """``inner`` (the dialect's own executor), wrapped by the configured one if any."""
        if not config.executor:
            return inner
        factory = self.pick(self.executors(), config.executor, "executor", "executor")
        made: Executor = factory(inner, options=config.options.get(config.executor, {}),
                                 config=config)
        return made

    def pick(self, registry: dict[str, Any], name: str, what: str, key: str) -> Any:
        if name not in registry:
            known = ", ".join(sorted(registry)) or "none installed"
            raise PluginError(
                f"no {what} named {name!r} ({key}); installed: {known}" + self.problems_note()
            )
        return registry[name]

    # -- typed hook calls ---------------------------------------------------------------------

    def config_loaded(self, config: Config) -> None:
        self.hook.mig_config_loaded(config=config)

    def parse_migration(self, path: Path, text: str) -> Migration | None:
        found: Migration | None = self.hook.mig_parse_migration(path=path, text=text)
        return found

    def split(
        self, sql: str, dialect: str, first_line: int = 1, path: Path | None = None
    ) -> list[Statement]:
        result: list[Statement] | None = self.hook.mig_parse_split(
            sql=sql, dialect=dialect, first_line=first_line, path=path
        )
        if result is None:
            raise PluginError(
                "no plugin splits SQL into statements (installed plugins: "
                + (", ".join(sorted(self.infos)) or "none")
                + ")"
                + self.problems_note()
            )
        return result

    def resolve_order(self, migrations: Sequence[Migration]) -> list[Migration]:
        ordered: list[Migration] = self.hook.mig_resolve_order(migrations=migrations)
        return ordered

    def integrity_check(self, ctx: Context) -> list[Problem]:
        problems: list[Problem] = []
        for found in self.hook.mig_integrity_check(ctx=ctx):
            problems.extend(found or ())
        return problems

    def migration_before(self, ctx: Context, migration: Migration, direction: str) -> None:
        caller = self.hook.mig_migration_before
        if caller.get_hookimpls():  # called per migration: skip pluggy when nobody listens
            caller(ctx=ctx, migration=migration, direction=direction)

    def migration_after(
        self, ctx: Context, migration: Migration, execution: MigrationExecution, direction: str
    ) -> None:
        caller = self.hook.mig_migration_after
        if caller.get_hookimpls():
            caller(ctx=ctx, migration=migration, execution=execution, direction=direction)

    def run_finished(self, ctx: Context, executions: list[MigrationExecution]) -> None:
        self.hook.mig_run_finished(ctx=ctx, executions=executions)


def _load_object(value: str) -> Any:
    """The object an entry point's ``module:attr.attr`` value names (what
    ``EntryPoint.load`` does, without importing :mod:`importlib.metadata`)."""
    import importlib

    module, _, attrs = value.partition("[")[0].partition(":")
    found: Any = importlib.import_module(module.strip())
    for attr in filter(None, attrs.strip().split(".")):
        found = getattr(found, attr)
    return found
