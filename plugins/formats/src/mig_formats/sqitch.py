"""Sqitch: ``sqitch.plan`` beside ``deploy/``, ``revert/`` and ``verify/`` (Sqitch's default
layout; ``sqitch.conf``'s ``top_dir``, ``*_dir`` and ``extension`` settings are not read, so
``migrations_dir`` is the folder holding the plan).

Each change line of the plan is one migration: its UP is ``deploy/<change>.sql``, its DOWN
``revert/<change>.sql`` (optional: without it the migration is irreversible). The version is
the line's position among the plan's changes (1, 2, ...), so mig applies them in plan order,
as Sqitch deploys them.

Dependencies: ``[a b]`` become mig dependencies, checked as Sqitch checks them: a change may
only require one planned before it (which also rules out cycles), ``change@tag`` is that
change as it was at the tag, ``@tag`` the change the tag marks. Requirements on another
project (``other:change``) are kept in the migration's metadata and otherwise ignored: mig
cannot see another project's registry. Conflicts (``!change``) are kept in the metadata and
not checked. A dependency given as a change's SHA-1 id is refused.

Reworked changes (a name planned again after a tag) are separate migrations: the earlier one
is ``<change>@<tag>`` with scripts ``deploy/<change>@<tag>.sql`` and so on, the tag being the
first tag between the two lines for which that deploy script exists, as Sqitch looks for it;
the latest one is ``<change>``.

Verify scripts are not run (mig has no verify step); their presence is noted in the metadata.
Sqitch scripts usually open and commit their own transaction (``BEGIN; ... COMMIT;``): such a
migration runs as written, outside mig's own transaction, as do scripts with a statement
PostgreSQL refuses in a transaction; others run in a transaction.
"""

from __future__ import annotations

from pathlib import Path

from mig import Migration, MigrationFileError

from .common import (
    make_migration,
    manages_own_transaction,
    needs_no_transaction,
    read_text,
)
from .sqitch_plan import Dependency, Plan, is_change_id, parse

NAME = "sqitch"
#: How deep below the folder the registry lists files for this format (0: the folder only;
#: the scripts are found from the plan).
LEVELS = 0
PLAN = "sqitch.plan"
#: How a Sqitch script runs outside mig's transaction (for mig's error messages).
TRANSACTIONAL_HINT = (
    "open and commit the script's own transaction (BEGIN; ... COMMIT;), as Sqitch scripts"
    " usually do: mig then runs it as written"
)


def detect(directory: Path, names: list[str]) -> bool:
    return PLAN in names


def _stems(directory: Path, path: Path, plan: Plan) -> list[str]:
    """Each change's script name: its name, or ``name@tag`` for a reworked change's earlier
    versions."""
    stems = [c.name for c in plan.changes]
    latest: dict[str, int] = {}
    for i, change in enumerate(plan.changes):
        earlier = latest.get(change.name)
        latest[change.name] = i
        if earlier is None:
            continue
        between = [t for k in range(earlier, i) for t in plan.changes[k].tags]
        found = next((t for t in between
                      if (directory / "deploy" / f"{change.name}@{t}.sql").is_file()), None)
        if found is None:
            raise MigrationFileError(
                f"change {change.name} is reworked on line {change.line}, but its earlier"
                f" version has no deploy script (deploy/{change.name}@{between[-1]}.sql)",
                path, plan.changes[earlier].line,
            )
        stems[earlier] = f"{change.name}@{found}"
    return stems


def _last(plan: Plan, name: str, upto: int) -> int | None:
    """The index of the last change called ``name`` at or before index ``upto``."""
    return next((k for k in range(upto, -1, -1) if plan.changes[k].name == name), None)


def _resolve(path: Path, plan: Plan, i: int, dep: Dependency, stems: list[str]) -> str:
    change = plan.changes[i]

    def error(why: str) -> MigrationFileError:
        return MigrationFileError(f"change {change.name} requires {dep.text}: {why}", path,
                                  change.line)

    if is_change_id(dep):
        raise error("mig cannot follow a dependency by change id; name the change instead")
    if dep.tag is not None:
        marked = plan.tags.get(dep.tag)
        if marked is None or marked[1] > change.line:
            raise error(f"the plan has no tag @{dep.tag} before line {change.line}")
        if dep.change is None:
            return stems[marked[0]]
        k = _last(plan, dep.change, marked[0])
        if k is None:
            raise error(f"no change {dep.change} is planned before @{dep.tag}")
        return stems[k]
    assert dep.change is not None
    k = _last(plan, dep.change, i - 1)
    if k is not None:
        return stems[k]
    if dep.change == change.name:
        raise error("a change cannot require itself")
    later = next((c for c in plan.changes[i + 1:] if c.name == dep.change), None)
    if later is not None:
        raise error(
            f"{dep.change} is planned after it (line {later.line}); Sqitch deploys in plan"
            " order, so a change must come after every change it requires (two changes"
            " requiring each other are a cycle)"
        )
    raise error(f"the plan has no change {dep.change}")


def load(directory: Path, names: list[str]) -> list[Migration]:
    path = directory / PLAN
    plan = parse(path, read_text(path))
    stems = _stems(directory, path, plan)
    out = []
    for i, change in enumerate(plan.changes):
        stem = stems[i]
        local = [d for d in change.requires if d.project in (None, "", plan.project)]
        external = [d.text for d in change.requires if d not in local]
        dependencies = tuple(dict.fromkeys(_resolve(path, plan, i, d, stems) for d in local))
        deploy = directory / "deploy" / f"{stem}.sql"
        if not deploy.is_file():
            raise MigrationFileError(
                f"change {change.name}: its deploy script deploy/{stem}.sql does not exist",
                path, change.line,
            )
        revert = directory / "revert" / f"{stem}.sql"
        verify = directory / "verify" / f"{stem}.sql"
        up = read_text(deploy)
        down = read_text(revert) if revert.is_file() else ""
        transactional = not any(
            needs_no_transaction(sql) or manages_own_transaction(sql) for sql in (up, down)
        )
        source = f"deploy/{stem}.sql" + (f", revert/{stem}.sql" if revert.is_file() else "")
        out.append(make_migration(
            id=stem, version=i + 1, name=stem, path=deploy, up=up, down=down, fmt=NAME,
            down_line=1 if revert.is_file() else 0, transactional=transactional,
            dependencies=dependencies,
            metadata={
                "sqitch_change": change.name, "sqitch_note": change.note,
                "sqitch_plan_line": str(change.line), "sqitch_tags": " ".join(change.tags),
                "sqitch_conflicts": " ".join(d.text for d in change.conflicts),
                "sqitch_external_requires": " ".join(external),
                "sqitch_verify": f"verify/{stem}.sql" if verify.is_file() else "",
                "source": source, "transactional_hint": TRANSACTIONAL_HINT,
            },
        ))
    return out
