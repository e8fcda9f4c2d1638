"""The PostgreSQL backup helpers without a server: the password never reaches a command
line, and pg_restore's script is read correctly however its writes are cut. Round trips on a
real server are in tests/dialects/."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mig_postgres.backup import tools as _postgres

PASSWORD = 's3cr"et \\#pa\'ss'


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
        pipe = _postgres.Pipe(raw)
        got: list[bytes] = []
        lines: list[bytes] = []
        while line := pipe.readline():
            if line.startswith(b"COPY "):
                out: list[bytes] = []
                pipe.copy_data(out.append)
                assert all(len(piece) <= _postgres.PIECE for piece in out)
                got.append(b"".join(out))
            else:
                lines.append(line)
    thread.join()
    assert got == blocks
    assert lines == [b"SET x = 1;\n"] + [b"\n"] * len(blocks) + [b"SELECT 1;\n"]
