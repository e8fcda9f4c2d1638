"""The realistic migrations of ``mig test``'s tests (tests/data/migtest/) and what it must say
about them, per dialect.

``common/`` holds the migrations every dialect runs as written; ``<dialect>/`` replaces files
of the same name and adds the ones whose syntax differs (triggers, MySQL's ``DROP INDEX ...
ON``). Each planted mistake is commented in its file; the other migrations are correct and
must not be flagged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "migtest"

#: Findings as ``mig test`` prints them. A line ending in ``...`` is a prefix: what follows is
#: the database's own error message.
SCHEMA_FINDINGS = [
    "004_add_user_timezone: DOWN leaves column users.timezone",
    "004_add_user_timezone: UP failed after DOWN: statement 1 ...",
    "005_index_orders_status_user: DOWN drops index {idx}idx_orders_status that UP did not"
    " create",
    "006_active_users_view: DOWN leaves view active_users",
    "007_drop_product_sku: DOWN restores products.sku as NULL-able (was NOT NULL)",
    "008_drop_product_currency: DOWN restores products.currency without its default"
    " (was {eur})",
    "010_fill_user_names: reversible but DOWN is empty",
    "017_index_product_name: DOWN leaves index {idx2}idx_products_name",
    "017_index_product_name: UP failed after DOWN: statement 1 ...",
]
DATA_FINDINGS = ["013_add_tag_color: DOWN loses 5 of 5 row(s) of tags"]
SKIPPED = [("011_purge_cancelled_orders", "irreversible: applied without a round trip")]
#: The correct migrations: round-tripped, never flagged.
CORRECT = ["001_create_users", "002_create_orders", "003_create_products", "009_audit_orders",
           "012_create_tags", "014_rename_tags", "015_add_product_weight",
           "016_create_order_notes"]

_NAMES = {
    # MySQL's indexes are named per table: snapshots call them "<table>.<index>".
    "mysql": {"idx": "orders.", "idx2": "products.", "eur": "'EUR'"},
    "postgres": {"idx": "", "idx2": "", "eur": "'EUR'::character varying"},
    "sqlite": {"idx": "", "idx2": "", "eur": "'EUR'"},
}


def write_planted(dialect: str, folder: Path) -> Path:
    """The planted migrations for ``dialect`` in ``folder`` (created); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in (DATA / "common", DATA / dialect):
        for path in sorted(source.glob("*.sql")):
            shutil.copyfile(path, folder / path.name)
    return folder


def expected(dialect: str, data: bool = False) -> list[str]:
    """The finding lines for ``dialect``, in the order ``mig test`` reports them."""
    lines = [line.format(**_NAMES[dialect]) for line in SCHEMA_FINDINGS]
    if data:
        lines.insert(7, DATA_FINDINGS[0])
    return lines


def matches(found: list[str], wanted: list[str]) -> bool:
    """Whether ``found`` are the ``wanted`` lines, one for one (``...`` ends a prefix)."""
    return len(found) == len(wanted) and all(
        f.startswith(w[:-3]) if w.endswith("...") else f == w
        for f, w in zip(found, wanted, strict=True)
    )
