"""The server backup helpers without a server: passwords never reach a command line, and
the helper modules shared by the backup plugins stay identical.

Round trips on real PostgreSQL and MariaDB servers are in tests/dialects/."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mig_backup_full import _mysql, _postgres

HERE = Path(__file__).resolve()
PLUGINS = HERE.parents[2]
SHARED = {
    "_postgres.py": ["backup_full", "backup_schema", "backup_data", "backup_incremental"],
    "_mysql.py": ["backup_full", "backup_schema", "backup_data", "backup_incremental"],
}
PASSWORD = 's3cr"et \\#pa\'ss'


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_modules_are_identical(name: str) -> None:
    mine = (HERE.parents[1] / "src" / "mig_backup_full" / name).read_text()
    for plugin in SHARED[name]:
        copy = PLUGINS / plugin / "src" / f"mig_{plugin}" / name
        if copy.exists() or plugin != "backup_incremental":
            assert copy.read_text() == mine, f"{copy} differs from mig_backup_full/{name}"


def capture(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append({"args": list(args), "env": kwargs.get("env")})
        return subprocess.CompletedProcess(args, 0, b"", b"")

    monkeypatch.setattr(module.subprocess, "run", run)
    return calls


def test_postgres_password_goes_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from urllib.parse import quote

    from mig_postgres.dialect import PostgresDialect

    url = f"postgresql://app:{quote(PASSWORD, safe='')}@db.example:6543/sales?sslmode=require"
    dialect = PostgresDialect(url, base_dir=tmp_path, options={})
    server = _postgres.Server(dialect)
    calls = capture(monkeypatch, _postgres)
    monkeypatch.setattr(server, "tool", lambda name: f"/usr/bin/{name}")
    server.dump(tmp_path / "out", ["--schema-only"])
    [call] = calls
    assert not any("s3cr" in arg for arg in call["args"])
    assert call["env"]["PGPASSWORD"] == PASSWORD
    dbname = [a for a in call["args"] if a.startswith("--dbname=")][0]
    assert "host='db.example'" in dbname and "port='6543'" in dbname
    assert "sslmode='require'" in dbname and "dbname='sales'" in dbname
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o600


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


@pytest.mark.parametrize("seed", range(6))
def test_postgres_script_reader_finds_every_end_of_copy(seed: int) -> None:
    """COPY rows go on unchanged however pg_restore's writes cut them, and each block ends at
    its own ``\\.`` line, never at a row that merely looks like one."""
    import os
    import random
    import threading

    rng = random.Random(seed)
    blocks = [
        b"",
        b"1\t\\N\n\\N\t\\\\.\n",
        b"".join(f"{i}\t\\\\.\t\\N\tx\\ny\n".encode() for i in range(2000)),
        b"\\N\n",
    ]
    script = b"SET x = 1;\n"
    for i, rows in enumerate(blocks):
        script += f"COPY public.t{i} (a, b) FROM stdin;\n".encode() + rows + b"\\.\n\n"
    script += b"SELECT 1;\n"
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        view = memoryview(script)
        while view:
            n = rng.choice([1, 2, 3, 5, 64, 4096, 100_000])
            os.write(write_fd, view[:n])
            view = view[n:]
        os.close(write_fd)

    thread = threading.Thread(target=writer)
    thread.start()
    with os.fdopen(read_fd, "rb", buffering=0) as raw:
        pipe = _postgres._Pipe(raw)
        got: list[bytes] = []
        lines: list[bytes] = []
        while line := pipe.readline():
            if line.startswith(b"COPY "):
                out: list[bytes] = []
                pipe.copy_data(out.append)
                assert all(len(piece) <= _postgres._PIECE for piece in out)
                got.append(b"".join(out))
            else:
                lines.append(line)
    thread.join()
    assert got == blocks
    assert lines == [b"SET x = 1;\n"] + [b"\n"] * len(blocks) + [b"SELECT 1;\n"]
