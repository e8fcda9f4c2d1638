from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mig_sqlite import SQLiteDialect


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteDialect]:
    """A connected dialect on a fresh file ``app.db`` in ``tmp_path``."""
    dialect = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    dialect.connect()
    yield dialect
    dialect.close()
