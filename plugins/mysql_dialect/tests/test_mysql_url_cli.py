"""URLs through the CLI: a fault is one line with exit 2 and no password; the URL parser's
shapes work against the real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig.testing import Project
from mysql_server import url_of


@pytest.mark.parametrize(("url", "secret", "message"), [
    ("mysql://u:p/a#s?s@127.0.0.1/db", "p/a#s?s", "percent-encode"),
    ("mysql://u:hunter2/x@127.0.0.1:3306/db", "hunter2/x", "percent-encode"),
    ("mysql://u:hunter22@[::1/db", "hunter22", "an IPv6 host needs its closing ']'"),
    ("mariadb://u:hunter22@127.0.0.1/db?foo=1", "hunter22", "unknown parameter 'foo'"),
    ("mysql://u:hunter22@127.0.0.1:port/db", "hunter22", "the port must be a number"),
])
def test_bad_urls_are_one_line_without_the_password(
    mig_project: Project, url: str, secret: str, message: str
) -> None:
    for args in (("--database", url, "status"), ("--database", url, "up")):
        code, out, err = mig_project.run(*args)
        assert code == 2, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert err.startswith("mig: error: malformed mysql URL") and message in err
        assert secret not in err + out


def test_parameters_and_an_empty_password(my_url: str, tmp_path: Path) -> None:
    url = url_of(my_url.rpartition("/")[2], "connect_timeout=5&charset=utf8mb4")
    url = url.replace("mysql://root@", "mariadb://root:@")
    project = Project(tmp_path / "p")
    project.write_config(f'[mig]\ndatabase = "{url}"\nbackup = "none"\n')
    project.table_migration("001", "t")
    project.ok("up")
    assert "mariadb://root:@" in project.ok("status")
    assert "applied: 1 " in project.ok("--database", my_url, "status")
