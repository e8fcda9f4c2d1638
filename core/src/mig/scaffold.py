"""``mig new`` / :func:`create_migration_file`: the next numbered migration from a template."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from .config import VERSION_STYLE_CHOICES
from .errors import ConfigError
from .models import Migration

_VERSION = re.compile(r"^(\d+)_(.*?)(?:\.[^.]*)?$")
#: ``version_style`` values: the next number after the highest, or the UTC time.
VERSION_STYLES = VERSION_STYLE_CHOICES
#: A ``timestamp`` version: YYYYMMDDHHMMSS in UTC, as dbmate and golang-migrate write.
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"

TEMPLATE = """\
-- @name: {name}
-- @description: {description}
-- @type: {migration_type}
-- @author: {author}
-- @dependencies: {dependencies}
-- @reversible: true
-- @backup_required: true
-- @transactional: true

-- UP
-- Write the statements that apply this migration here.

-- DOWN
-- Write the statements that undo it here, in reverse order.
"""


#: Longest slug in a file name: file systems allow 255 bytes a name, and a name is read
#: whole in listings; the full name stays in the file's ``@name``.
MAX_SLUG = 60


def slugify(name: str) -> str:
    """``name`` as a file-name slug: lower-case ASCII words joined by ``_``, cut at a word
    boundary to at most :data:`MAX_SLUG` characters."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if len(slug) > MAX_SLUG:
        cut = slug[:MAX_SLUG + 1].rpartition("_")[0]
        slug = cut if len(cut) >= MAX_SLUG // 2 else slug[:MAX_SLUG]
    return slug or "migration"


def create_migration_file(
    migrations_dir: str | os.PathLike[str] = "migrations",
    name: str = "",
    migration_type: str = "table_modification",
    author: str = "",
    description: str = "",
    dependencies: Sequence[str] = (),
    *,
    version_style: str = "sequence",
    now: _dt.datetime | None = None,
) -> Path:
    """Write ``<version>_<slug>.sql`` and return its path. With ``version_style`` =
    ``"sequence"`` the version is one more than the highest in the folder, zero-padded like
    the existing ones (three digits at first); with ``"timestamp"`` it is ``now`` (UTC) as
    YYYYMMDDHHMMSS, a second later while that version is taken. A name whose slug an existing
    migration already has is refused."""
    if not name.strip():
        raise ConfigError("a migration needs a name")
    if any(ch in name for ch in "\r\n"):
        raise ConfigError("a migration name must be one line")
    if version_style not in VERSION_STYLES:
        raise ConfigError(f"version_style must be one of {', '.join(VERSION_STYLES)},"
                          f" not {version_style!r}")
    directory = Path(migrations_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {directory}: {exc.strerror or exc}") from None
    slug = slugify(name)
    existing = [m for m in (_VERSION.match(p.name) for p in sorted(directory.iterdir())) if m]
    for match in existing:
        if match.group(2) == slug:
            raise ConfigError(f"a migration named {slug!r} already exists: {match.group(0)}"
                              " (choose another name)")
    numbers = {int(m.group(1)) for m in existing}
    if version_style == "timestamp":
        moment = (now or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC)
        while int(moment.strftime(TIMESTAMP_FORMAT)) in numbers:
            moment += _dt.timedelta(seconds=1)
        version = moment.strftime(TIMESTAMP_FORMAT)
    else:
        width = max((len(m.group(1)) for m in existing), default=3)
        version = str(max(numbers, default=0) + 1).zfill(width)
    path = directory / f"{version}_{slug}.sql"
    text = TEMPLATE.format(
        name=name.strip(),
        description=description.replace("\n", " "),
        migration_type=migration_type,
        author=author.replace("\n", " "),
        dependencies=json.dumps(list(dependencies)),
    )
    try:
        with path.open("x", encoding="utf-8") as fh:  # never overwrite a file
            fh.write(text)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; not overwriting it") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def heads(migrations: Sequence[Migration]) -> list[str]:
    """The ids of the migrations no other migration depends on (the dependency graph's
    sinks), in plan order: what a new migration written ``--after-heads`` depends on."""
    needed = {d for m in migrations for d in m.dependencies}
    return [m.id for m in migrations if m.id not in needed]
