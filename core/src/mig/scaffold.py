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


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
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
    directory.mkdir(parents=True, exist_ok=True)
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
    with path.open("x", encoding="utf-8") as fh:  # never overwrite a file
        fh.write(text)
    return path
