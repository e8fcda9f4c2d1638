"""Commands about the project itself: its config, files, graph, checks and plugins."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from . import app, engine, fail, handle_errors, options, print_json, project_config
from .output import paint


@app.command()
@handle_errors
def init(
    database: str | None = typer.Option(
        None, "--database", "-d", metavar="URL",
        help="Database URL to write (default sqlite:///app.db)."
    ),
) -> None:
    """Write mig.toml and create the migrations and backups folders."""
    import tomli_w

    from ..config import CONFIG_FILE, default_toml

    path = Path(options.config or CONFIG_FILE)
    if path.exists():
        raise fail(f"{path} already exists; not overwriting it", 2)
    if not path.resolve().parent.is_dir():
        raise fail(f"cannot write {path}: folder {path.parent} does not exist", 2)
    url = database or options.database or "sqlite:///app.db"
    path.write_bytes(tomli_w.dumps(default_toml(url)).encode())
    base = path.resolve().parent
    (base / "migrations").mkdir(exist_ok=True)
    backups = base / "backups"
    backups.mkdir(mode=0o700, exist_ok=True)
    os.chmod(backups, 0o700)
    typer.echo(f"wrote {path}; created {base / 'migrations'} and {backups}")


@app.command()
@handle_errors
def new(
    name: str = typer.Argument(..., help="What the migration does, e.g. 'Add user email'."),
    migration_type: str = typer.Option(
        "table_modification", "--type", "-t", metavar="KIND", help="Its kind."
    ),
    author: str = typer.Option("", "--author", "-a", metavar="NAME"),
    description: str = typer.Option("", "--description", metavar="TEXT"),
    depends: list[str] = typer.Option(
        [], "--depends", metavar="ID", help="Migration id it depends on (repeatable)."
    ),
    after_heads: bool = typer.Option(
        False, "--after-heads",
        help="Depend on the current heads (migrations nothing depends on yet).",
    ),
) -> None:
    """Create the next migration from a template (numbered by version_style)."""
    from ..scaffold import create_migration_file, heads

    config = project_config()
    from ..loader import MIG_FORMAT, read_as_a_whole

    if config.migrations_format != MIG_FORMAT and read_as_a_whole(
        config.migrations_dir, engine().plugins, config.migrations_format
    ):
        raise fail(f"mig new writes mig's own files, and {config.migrations_dir} is read as"
                   f" another tool's folder (migrations_format = {config.migrations_format!r}):"
                   " add the file as that tool names it, or convert the folder with"
                   " `mig import --convert`", 2)
    if depends or after_heads:
        migrations = engine().migrations() if config.migrations_dir.is_dir() else []
        known = {m.id for m in migrations}
        unknown = [d for d in depends if d not in known]
        if unknown:
            from ..suggest import did_you_mean

            raise fail(f"--depends {unknown[0]!r} is not a migration in {config.migrations_dir}"
                       f"{did_you_mean(unknown[0], known)}", 2)
        if after_heads:
            depends = [*depends, *(h for h in heads(migrations) if h not in depends)]
    path = create_migration_file(
        config.migrations_dir, name, migration_type, author, description, depends,
        version_style=config.version_style,
    )
    typer.echo(str(path))


@app.command()
@handle_errors
def validate(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check every migration file without touching a database; list all bad files."""
    from ..engine import MigrationEngine
    from ..errors import MigError
    from ..loader import load_migrations

    config = project_config()
    eng = MigrationEngine(config=config)
    errors: list[MigError] = []
    migrations = load_migrations(config.migrations_dir, eng.checked_plugins(),
                                 config.migrations_format, errors)
    for m in migrations:
        for direction in ("up", "down"):
            try:
                eng.split(m, direction)
            except MigError as exc:
                errors.append(exc)
                break
    if as_json:
        print_json({"ok": not errors, "folder": str(config.migrations_dir),
                    "migrations": [m.id for m in migrations],
                    "errors": [{"file": str(getattr(e, "path", None) or "") or None,
                                "line": getattr(e, "line", None), "message": str(e)}
                               for e in errors]})
    elif errors:
        for problem in errors:
            typer.echo(f"{paint('mig: error:', 'red', bold=True, err=True)} {problem}", err=True)
        if len(errors) > 1:
            typer.echo(f"mig: {len(errors)} problems in {config.migrations_dir}", err=True)
    else:
        typer.echo(f"{len(migrations)} migration(s) in {config.migrations_dir}: OK")
    if errors:
        raise typer.Exit(2)


@app.command()
@handle_errors
def check(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Check database integrity, drift and backup checksums (exit 4 on problems)."""
    result = engine().validate_database_integrity()
    if as_json:
        print_json({"ok": result.ok, "problems": [p.__dict__ for p in result.problems]})
    elif result.ok:
        typer.echo("no problems found")
    else:
        for p in result.problems:
            typer.echo(f"{p.check}: {p.message}")
    if not result.ok:
        raise typer.Exit(4)


GRAPH_FORMATS = ("text", "dot", "mermaid")


@app.command()
@handle_errors
def graph(
    fmt: str = typer.Option(
        "text", "--format", "-f", metavar="[text|dot|mermaid]", help="Output format."
    ),
) -> None:
    """The dependency graph ([x] applied, [ ] pending)."""
    from .. import graph as graph_module

    if fmt not in GRAPH_FORMATS:
        raise fail(f"--format must be one of {', '.join(GRAPH_FORMATS)}", 2)
    eng = engine()
    applied = {e.migration_id for e in eng.applied_executions()} if eng.config.database else set()
    typer.echo(graph_module.render(eng.migrations(), fmt, applied))


@app.command()
@handle_errors
def plugins(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List the loaded plugins with their versions and hooks."""
    from ..config import load_config
    from ..plugins import Plugins

    try:
        disable = load_config(options.config, database=options.database).disable
    except Exception:  # listing plugins must work even when the config is broken
        disable = []
    infos = Plugins(disable=disable).plugin_infos()
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    for i in infos:
        dist = f"{i.distribution} {i.version}" if i.distribution else "(builtin)"
        api = f"api {i.api_version}" if i.api_version else "api ?"
        typer.echo(f"{i.name:<22} {dist:<32} {api}")
        if i.error:
            typer.echo(f"{'':<22} FAILED TO LOAD: {i.error}")
        else:
            typer.echo(f"{'':<22} hooks: {', '.join(i.hooks) or '(none)'}")
