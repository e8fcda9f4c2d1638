"""URLs through the CLI: a fault is one line with exit 2 and no password; the shapes libpq
reads work against the real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig.testing import Project
from postgres_server import url_of


@pytest.mark.parametrize(("url", "secret", "message"), [
    ("postgresql://u:p/a#s?s@127.0.0.1/db", "p/a#s?s", "percent-encode"),
    ("postgresql://u:hunter2/x@127.0.0.1:5432/db", "hunter2/x", "percent-encode"),
    ("postgresql://u:hunter22@[::1/db", "hunter22", "an IPv6 host needs its closing ']'"),
    ("postgresql://u:hunter22@127.0.0.1/db?foo=1", "hunter22", "unknown parameter 'foo'"),
    ("postgresql://u:hunter22@127.0.0.1:port/db", "hunter22", "the port must be a number"),
])
def test_bad_urls_are_one_line_without_the_password(
    mig_project: Project, url: str, secret: str, message: str
) -> None:
    for args in (("--database", url, "status"), ("--database", url, "up")):
        code, out, err = mig_project.run(*args)
        assert code == 2, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert err.startswith("mig: error: malformed postgresql URL") and message in err
        assert secret not in err + out


def test_libpq_reads_schema_and_an_at_in_a_query_value(pg_url: str, tmp_path: Path) -> None:
    # (the server trusts local connections, so any password works; it is never shown)
    url = url_of(pg_url.rpartition("/")[2], "schema=app&application_name=mig@test")
    url = url.replace("://postgres@", "://postgres:s%2Fe%23c%3Fr%40t@")
    project = Project(tmp_path / "p")
    project.write_config(f'[mig]\ndatabase = "{url}"\nbackup = "none"\n')
    project.table_migration("001", "t")
    project.ok("up")
    out = project.ok("status")
    assert "s/e#c?r" not in out and "s%2Fe%23c%3Fr%40t" not in out and "postgres:***@" in out
    import psycopg

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 't'"
        ).fetchall()
    assert rows == [("app",)]
