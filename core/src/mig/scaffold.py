"""``mig new`` / :func:`create_migration_file`: the next numbered migration from a template."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from .errors import ConfigError

_VERSION = re.compile(r"^(\d+)_")

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
) -> Path:
    """Write ``<next version>_<slug>.sql`` and return its path. The version is one more than
    the highest in the folder, zero-padded like the existing ones (three digits at first)."""
    if not name.strip():
        raise ConfigError("a migration needs a name")
    if any(ch in name for ch in "\r\n"):
        raise ConfigError("a migration name must be one line")
    directory = Path(migrations_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {directory}: {exc.strerror or exc}") from None
    numbers = [
        (int(m.group(1)), len(m.group(1)))
        for m in (_VERSION.match(p.name) for p in directory.iterdir())
        if m
    ]
    top = max(numbers, default=(0, 3))
    width = max(w for _, w in numbers) if numbers else 3
    version = str(top[0] + 1).zfill(width)
    path = directory / f"{version}_{slugify(name)}.sql"
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
