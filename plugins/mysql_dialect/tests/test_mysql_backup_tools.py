"""The MySQL/MariaDB backup helpers without a server: the password goes in a private option
file, never on a command line. Round trips on a real server are in tests/dialects/."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mig_mysql.backup import tools as _mysql

PASSWORD = 's3cr"et \\#pa\'ss'


def capture(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append({"args": list(args), "env": kwargs.get("env")})
        return subprocess.CompletedProcess(args, 0, b"", b"")

    monkeypatch.setattr(module.subprocess, "run", run)
    return calls


def test_mysql_password_goes_in_a_private_option_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from urllib.parse import quote

    from mig_mysql.dialect import MySQLDialect

    url = f"mysql://app:{quote(PASSWORD, safe='')}@db.example:3307/sales"
    dialect = MySQLDialect(url, base_dir=tmp_path, options={})
    calls = capture(monkeypatch, _mysql)
    with _mysql.Server(dialect) as server:
        monkeypatch.setattr(server, "tool", lambda names: f"/usr/bin/{names[0]}")
        folder, options = server.defaults.parent, server.defaults
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(options.stat().st_mode) == 0o600
        text = options.read_text()
        assert 'password="s3cr\\"et \\\\#pa\\\'ss"' in text
        assert 'host="db.example"' in text and 'port="3307"' in text and "protocol=TCP" in text
        server.dump(tmp_path / "out", ["--no-data"])
        [call] = calls
        assert call["args"][1] == f"--defaults-extra-file={options}"
        assert not any("s3cr" in arg for arg in call["args"])
        assert call["args"][-1] == "sales"
    assert not folder.exists()
