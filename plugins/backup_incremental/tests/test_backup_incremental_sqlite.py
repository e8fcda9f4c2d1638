"""Incremental SQLite backups through the Python API, on real files."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from mig import BackupError
from mig.protocols import Dialect
from mig.testing import Project
from mig_backup_incremental.plugin import IncrementalBackup

CONFIG = """\
[mig]
database = "sqlite:///app.db"
migrations_dir = "migrations"
backups_dir = "backups"
backup = "incremental"
lock_timeout = 10
"""


def configure(project: Project, **options: object) -> Project:
    text = CONFIG
    if options:
        import tomli_w

        text += "\n" + tomli_w.dumps({"mig": {"options": {"incremental": options}}})
    project.write_config(text)
    return project


@pytest.fixture
def project(mig_project: Project) -> Project:
    configure(mig_project)
    fill(mig_project.db_path, rows=20_000)
    return mig_project


def fill(db: Path, rows: int, *, start: int = 0, table: str = "items") -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY,"
                     " name TEXT NOT NULL, qty INTEGER NOT NULL, payload BLOB)")
        conn.execute(f"CREATE INDEX IF NOT EXISTS idx_{table}_name ON {table}(name)")
        conn.executemany(
            f"INSERT INTO {table} (id, name, qty, payload) VALUES (?, ?, ?, ?)",
            ((i, f"item {i:06d}", i % 97, bytes([i % 251]) * 100)
             for i in range(start + 1, start + rows + 1)),
        )
    conn.close()


def execute(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    for sql in statements:
        conn.execute(sql)
    conn.close()


def user_rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every user table (mig's bookkeeping left out), in key order."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [n for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'mig_%' ORDER BY name")]
        return {n: conn.execute(f"SELECT * FROM {n} ORDER BY 1").fetchall() for n in names}
    finally:
        conn.close()


def schema(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master"
                            " WHERE name NOT LIKE 'mig_%' ORDER BY name").fetchall()
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def backup(project: Project) -> object:
    with project.engine() as engine:
        return engine.create_backup("incremental")


def restore(project: Project, backup_id: str) -> None:
    with project.engine() as engine:
        engine.restore_backup(backup_id, confirm=True)


def folder(project: Project, backup_id: str) -> Path:
    return project.path / "backups" / backup_id


# -- chains -----------------------------------------------------------------------------------


def test_chain_restores_every_point_row_by_row(project: Project) -> None:
    db = project.db_path
    points = []
    changes = [
        ("UPDATE items SET qty = qty + 1 WHERE id BETWEEN 100 AND 180",),
        ("DELETE FROM items WHERE id BETWEEN 7000 AND 7400",),
        ("INSERT INTO items (name, qty) VALUES ('new one', 1)",
         "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
         "INSERT INTO notes (body) VALUES ('hello'), ('world')"),
        ("UPDATE notes SET body = upper(body)", "DROP INDEX idx_items_name"),
    ]
    info = backup(project)
    points.append((info, user_rows(db), schema(db)))
    for statements in changes:
        execute(db, *statements)
        info = backup(project)
        points.append((info, user_rows(db), schema(db)))

    base, *increments = [p[0] for p in points]
    assert base.parent_id is None and base.extra["kind"] == "base"
    for parent, child in zip([base, *increments], increments, strict=False):
        assert child.parent_id == parent.backup_id
        assert child.extra["kind"] == "increment"
    assert [i.extra["depth"] for i in increments] == [1, 2, 3, 4]

    execute(db, "DELETE FROM items", "DROP TABLE IF EXISTS notes")
    for info, rows, tables in reversed(points):
        restore(project, info.backup_id)
        assert user_rows(db) == rows
        assert schema(db) == tables
        assert integrity(db) == "ok"
    leftovers = [p.name for p in db.parent.iterdir() if p.name.startswith(".app.db")]
    assert leftovers == []
    assert not Path(f"{db}-journal").exists()


def test_restore_keeps_the_audit_trail_and_records_itself(project: Project) -> None:
    first = backup(project)
    execute(project.db_path, "UPDATE items SET qty = 0")
    backup(project)
    restore(project, first.backup_id)
    with project.engine() as engine:
        history = engine.history()
        listed = {b["backup_id"] for b in engine.get_backup_history()}
    assert history[0].operation.value == "restore"
    assert history[0].backup_id == first.backup_id
    assert len(listed) == 2
    rows = project.query("SELECT backup_id FROM mig_backup_info")
    assert {r[0] for r in rows} == listed


def test_increment_is_much_smaller_than_the_base(project: Project) -> None:
    base = backup(project)
    execute(project.db_path, "UPDATE items SET qty = -1 WHERE id BETWEEN 5000 AND 5040")
    increment = backup(project)
    assert increment.parent_id == base.backup_id
    db_size = project.db_path.stat().st_size
    assert base.size_bytes >= db_size
    assert increment.size_bytes < base.size_bytes / 20
    assert increment.extra["pages_stored"] < base.extra["pages_stored"] / 20
    data = folder(project, increment.backup_id) / "data"
    assert data.stat().st_size < db_size / 20


def test_an_increment_keeps_only_its_pages_digests(project: Project) -> None:
    """The page index of an increment holds the digests of its stored pages only (a digest
    per page of the database would cost more than the pages for small changes) and of its
    256 KiB blocks (so the next increment hashes page by page only changed blocks), and a chain
    is rebuilt from those digests alone by a process that made none of it."""
    from mig_sqlite.backup import incremental

    db = project.db_path
    backup(project)
    points = []
    for n in range(3):
        execute(db, f"UPDATE items SET qty = {n} WHERE id BETWEEN 10 AND 40")
        info = backup(project)
        points.append((info, user_rows(db)))
    for info, _ in points:
        index = folder(project, info.backup_id) / "index"
        per_block = (256 << 10) // info.extra["page_size"]
        blocks = -(-info.extra["page_count"] // per_block)  # a digest per 256 KiB block too
        stored = info.extra["pages_stored"]  # each with its number and digest
        assert index.stat().st_size == 36 + 4 * stored + 16 * (stored + blocks)
    incremental.LAST_INDEX.clear()  # as a new process: nothing remembered
    execute(db, "UPDATE items SET qty = 99 WHERE id BETWEEN 3000 AND 3100")
    after = backup(project)
    assert after.parent_id == points[-1][0].backup_id
    incremental.LAST_INDEX.clear()
    for info, rows in [*points, (after, user_rows(db))]:
        restore(project, info.backup_id)
        incremental.LAST_INDEX.clear()
        assert user_rows(db) == rows
        assert integrity(db) == "ok"


def test_unchanged_database_gives_an_almost_empty_increment(project: Project) -> None:
    base = backup(project)
    again = backup(project)
    assert again.parent_id == base.backup_id
    # mig's own bookkeeping row for the base changed a page or two, nothing else did
    assert again.extra["pages_stored"] <= 4


def test_restore_from_the_middle_of_a_chain(project: Project) -> None:
    db = project.db_path
    backup(project)
    execute(db, "UPDATE items SET name = 'second' WHERE id < 300")
    middle = backup(project)
    expected = user_rows(db)
    execute(db, "UPDATE items SET name = 'third' WHERE id < 600")
    last = backup(project)
    execute(db, "DELETE FROM items WHERE id > 100")
    backup(project)
    restore(project, middle.backup_id)
    assert user_rows(db) == expected
    assert integrity(db) == "ok"
    # the newer links are still whole and restorable afterwards
    with project.engine() as engine:
        assert len(engine.verify_backup(last.backup_id)) == 3


def test_growing_and_shrinking_database(project: Project) -> None:
    configure(project, rebase_ratio=100)  # keep one chain, whatever changes
    db = project.db_path
    points = [(backup(project), user_rows(db))]
    fill(db, rows=30_000, start=100_000)  # grows
    points.append((backup(project), user_rows(db)))
    execute(db, "DELETE FROM items WHERE id % 3 = 0 OR id > 2000", "VACUUM")  # shrinks
    points.append((backup(project), user_rows(db)))
    fill(db, rows=5_000, start=200_000, table="more")  # grows again
    points.append((backup(project), user_rows(db)))
    counts = [info.extra["page_count"] for info, _ in points]
    assert counts[1] > counts[0] > counts[2] < counts[3]
    assert [info.extra["kind"] for info, _ in points] == ["base"] + ["increment"] * 3
    for info, rows in points:
        restore(project, info.backup_id)
        assert user_rows(db) == rows
        assert integrity(db) == "ok"
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA page_count").fetchone()[0] * 4096 == db.stat().st_size
        conn.close()


def test_most_pages_changed_starts_a_new_chain(project: Project) -> None:
    db = project.db_path
    first = backup(project)
    execute(db, "UPDATE items SET payload = zeroblob(150)")
    second = backup(project)
    assert second.parent_id is None
    assert second.extra["kind"] == "base"
    assert "pages changed" in second.extra["new_chain"]
    execute(db, "UPDATE items SET qty = 7 WHERE id = 1")
    third = backup(project)
    assert third.parent_id == second.backup_id
    expected = user_rows(db)
    restore(project, first.backup_id)
    restore(project, third.backup_id)
    assert user_rows(db) == expected


def test_max_chain_starts_a_new_base(project: Project) -> None:
    """Past ``max_chain`` increments a new base is taken, once the chain's increments hold,
    all together, as many bytes as its base (each here rewrites every row's payload: more
    than half, less than all of the base's bytes)."""
    configure(project, max_chain=2, rebase_ratio=1.0)
    infos = []
    for _ in range(5):
        execute(project.db_path, "UPDATE items SET payload = randomblob(100)")
        infos.append(backup(project))
    base = infos[0].size_bytes
    assert base / 2 < infos[1].size_bytes < base
    assert [i.extra["kind"] for i in infos] == ["base", "increment", "increment", "base",
                                                "increment"]
    assert infos[3].parent_id is None
    assert "max_chain = 2" in infos[3].extra["new_chain"]
    assert infos[4].parent_id == infos[3].backup_id


def test_a_chain_of_small_increments_goes_past_max_chain(project: Project) -> None:
    """Increments of a few pages (a run of small migrations) do not start a new base every
    ``max_chain`` backups: replaying them costs less than copying the database again."""
    configure(project, max_chain=2)
    infos = []
    for i in range(5):
        execute(project.db_path, f"UPDATE items SET qty = {i} WHERE id = 1")
        infos.append(backup(project))
    assert [i.extra["kind"] for i in infos] == ["base"] + ["increment"] * 4
    restore(project, infos[2].backup_id)
    assert project.query("SELECT qty FROM items WHERE id = 1") == [(2,)]


def test_a_broken_chain_is_not_built_on(project: Project) -> None:
    base = backup(project)
    middle = backup(project)
    shutil.rmtree(folder(project, base.backup_id))
    after = backup(project)
    assert after.parent_id is None
    assert "cannot be built on" in after.extra["new_chain"]
    assert middle.backup_id in after.extra["new_chain"] or base.backup_id in (
        after.extra["new_chain"]
    )


def test_page_size_change_starts_a_new_chain(project: Project) -> None:
    backup(project)
    execute(project.db_path, "PRAGMA page_size = 8192", "VACUUM")
    info = backup(project)
    assert info.parent_id is None
    assert info.extra["page_size"] == 8192
    assert "page size" in info.extra["new_chain"]
    expected = user_rows(project.db_path)
    execute(project.db_path, "DELETE FROM items")
    restore(project, info.backup_id)
    assert user_rows(project.db_path) == expected


def test_wal_database(project: Project) -> None:
    db = project.db_path
    execute(db, "PRAGMA journal_mode = WAL")
    keeper = sqlite3.connect(db)  # keeps the WAL from being checkpointed away
    keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()
    first = backup(project)
    execute(db, "UPDATE items SET qty = 5 WHERE id < 500")
    assert Path(f"{db}-wal").stat().st_size > 0
    second = backup(project)
    expected = user_rows(db)
    keeper.close()
    assert second.parent_id == first.backup_id
    assert second.extra["pages_stored"] < first.extra["pages_stored"] / 5
    assert first.extra["read"] == second.extra["read"] == "file"
    execute(db, "DELETE FROM items")
    restore(project, second.backup_id)
    assert user_rows(db) == expected
    assert integrity(db) == "ok"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_backups_stay_consistent_while_another_process_writes(project: Project) -> None:
    """A writer moves amounts between accounts in transactions; every backup taken meanwhile
    must hold the same total (a torn read would not)."""
    db = project.db_path
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER, pad BLOB)")
        conn.executemany("INSERT INTO accounts VALUES (?, 1000, randomblob(300))",
                         ((i,) for i in range(1, 5001)))
    conn.close()
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import random, sqlite3, time
        conn = sqlite3.connect({str(db)!r}, timeout=30, isolation_level=None)
        end = time.time() + 4
        while time.time() < end:
            a, b = random.sample(range(1, 5001), 2)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE accounts SET balance = balance - 7 WHERE id = ?", (a,))
            conn.execute("UPDATE accounts SET balance = balance + 7, pad = randomblob(300)"
                         " WHERE id = ?", (b,))
            conn.execute("COMMIT")
            time.sleep(0.002)
    """)])
    try:
        taken = []
        time.sleep(0.3)
        while writer.poll() is None and len(taken) < 8:
            taken.append(backup(project))
    finally:
        writer.wait(timeout=30)
    assert len(taken) >= 3
    assert any(i.extra["kind"] == "increment" for i in taken)
    for info in taken:
        restore(project, info.backup_id)
        assert project.query("SELECT sum(balance), count(*) FROM accounts") == [(5_000_000, 5000)]
        assert integrity(db) == "ok"


# -- damage -----------------------------------------------------------------------------------


def test_missing_link_is_refused_and_the_database_unchanged(project: Project) -> None:
    db = project.db_path
    backup(project)
    execute(db, "UPDATE items SET qty = 1")
    parent = backup(project)
    execute(db, "UPDATE items SET qty = 2 WHERE id < 100")
    child = backup(project)
    execute(db, "UPDATE items SET qty = 3")
    before = db.read_bytes()
    shutil.rmtree(folder(project, parent.backup_id))
    with project.engine() as engine:
        with pytest.raises(BackupError, match=f"needs {parent.backup_id}, which is missing"):
            engine.verify_backup(child.backup_id)
        with pytest.raises(BackupError, match="chain is broken"):
            engine.restore_backup(child.backup_id, confirm=True)
    assert db.read_bytes() == before
    code, out, err = project.run("backup", "restore", child.backup_id, "--yes")
    assert code == 1
    assert f"needs {parent.backup_id}, which is missing" in err
    assert "Traceback" not in err
    assert db.read_bytes() == before
    code, _, err = project.run("backup", "verify", child.backup_id)
    assert code == 1 and "chain is broken" in err


@pytest.mark.parametrize("part", ["data", "index"])
def test_flipped_byte_in_an_increment_is_refused(project: Project, part: str) -> None:
    db = project.db_path
    backup(project)
    execute(db, "UPDATE items SET qty = 1 WHERE id < 200")
    child = backup(project)
    execute(db, "UPDATE items SET qty = 2")
    before = db.read_bytes()
    damaged = folder(project, child.backup_id) / part
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    damaged.write_bytes(bytes(raw))
    with project.engine() as engine:
        with pytest.raises(BackupError, match=f"{part}' fails its SHA-256 check"):
            engine.verify_backup(child.backup_id)
        with pytest.raises(BackupError, match="damaged"):
            engine.restore_backup(child.backup_id, confirm=True)
    assert db.read_bytes() == before
    code, _, err = project.run("backup", "restore", child.backup_id, "--yes")
    assert code == 1 and "fails its SHA-256 check" in err
    assert db.read_bytes() == before


def test_flipped_byte_in_the_base_is_refused(project: Project) -> None:
    base = backup(project)
    execute(project.db_path, "UPDATE items SET qty = 1 WHERE id < 200")
    child = backup(project)
    before = project.db_path.read_bytes()
    data = folder(project, base.backup_id) / "data"
    with data.open("r+b") as fh:
        fh.seek(4096 * 3 + 17)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x80]))
    with project.engine() as engine, pytest.raises(BackupError, match=base.backup_id):
        engine.restore_backup(child.backup_id, confirm=True)
    assert project.db_path.read_bytes() == before


def test_a_failed_restore_leaves_the_database_and_connection_usable(project: Project) -> None:
    """With check = "quick_check", a chain that fails it (the base was made of a damaged file
    and so carries valid checksums) is refused before anything is replaced."""
    configure(project, check="quick_check")
    db = project.db_path
    base = backup(project)
    data = folder(project, base.backup_id) / "data"
    manifest = folder(project, base.backup_id) / "manifest.json"
    raw = bytearray(data.read_bytes())
    raw[4096 * 2: 4096 * 3] = b"\xff" * 4096  # wreck a b-tree page
    data.write_bytes(bytes(raw))
    reseal(manifest, "data", bytes(raw))
    before = db.read_bytes()
    with project.engine() as engine:
        with pytest.raises(BackupError, match="quick_check"):
            engine.restore_backup(base.backup_id, confirm=True)
        assert engine.get_current_version() is None  # the connection still works
    assert db.read_bytes() == before
    assert [p for p in db.parent.iterdir() if p.name.endswith(".mig-restore")] == []


def test_leftovers_of_a_killed_restore_are_removed(project: Project) -> None:
    info = backup(project)
    leftover = project.path / ".app.db.abc123.mig-restore"
    leftover.write_bytes(b"half a database")
    Path(f"{leftover}-journal").write_bytes(b"junk")
    restore(project, info.backup_id)
    assert not leftover.exists() and not Path(f"{leftover}-journal").exists()


# -- options, dialects, formats ---------------------------------------------------------------


def test_bad_option_in_config_fails_the_backup_clearly(project: Project) -> None:
    configure(project, max_chain="many")
    code, _, err = project.run("backup", "create")
    assert code == 2
    assert "incremental.max_chain" in err


def test_blake2b_hash(project: Project) -> None:
    configure(project, hash="blake2b", threads=1)
    first = backup(project)
    execute(project.db_path, "UPDATE items SET qty = 3 WHERE id = 9")
    second = backup(project)
    assert second.extra["hash"] == "blake2b/128" and second.parent_id == first.backup_id
    configure(project, hash="sha256")
    third = backup(project)
    assert third.parent_id is None and "hash changed" in third.extra["new_chain"]


class Oracle(Dialect):
    """A dialect that offers no backups (the protocol's default ``backup_handler``)."""

    name = "oracle"


def test_other_dialects_are_refused(tmp_path: Path) -> None:
    ctx = SimpleNamespace(dialect=Oracle("oracle://x", base_dir=tmp_path, options={}))
    with pytest.raises(BackupError, match=(
        "^incremental backups of oracle databases are not supported"
    )):
        IncrementalBackup().create(ctx, None)  # type: ignore[arg-type]
    assert not IncrementalBackup().calls_finish(ctx.dialect)


def test_in_memory_database_is_refused(tmp_path: Path) -> None:
    from mig import MigrationEngine

    engine = MigrationEngine(database="sqlite:///:memory:", backups_dir=tmp_path / "b",
                             migrations_dir=tmp_path)
    with engine, pytest.raises(BackupError, match="in-memory"):
        engine.create_backup("incremental")


def test_a_parent_without_its_index_starts_a_new_chain(project: Project) -> None:
    first = backup(project)
    (folder(project, first.backup_id) / "index").unlink()
    after = backup(project)
    assert after.parent_id is None
    assert "part 'index' is missing" in after.extra["new_chain"]


def test_wal_database_with_an_old_reader_is_copied_by_sqlite(project: Project) -> None:
    db = project.db_path
    execute(db, "PRAGMA journal_mode = WAL")
    first = backup(project)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM items").fetchone()  # holds the current snapshot
    execute(db, "UPDATE items SET qty = 11 WHERE id < 300")  # a newer one the reader pins
    expected = user_rows(db)
    second = backup(project)
    reader.execute("COMMIT")
    reader.close()
    assert second.extra["read"] == "backup-api"
    assert second.parent_id == first.backup_id and second.extra["kind"] == "increment"
    execute(db, "DELETE FROM items")
    restore(project, second.backup_id)
    assert user_rows(db) == expected


def reseal(manifest_path: Path, part: str, data: bytes) -> None:
    """Rewrite a part's checksum in its manifest, as a buggy or forged writer would."""
    import hashlib
    import json

    meta = json.loads(manifest_path.read_text())
    digest = hashlib.sha256(data).hexdigest()
    meta["parts"][part]["sha256"] = digest
    if part == "data":
        meta["checksum"] = digest
    manifest_path.write_text(json.dumps(meta))


def test_replayed_pages_are_checked_against_the_index(project: Project) -> None:
    """An increment whose pages do not match its own index (checksums consistent, content
    wrong) is refused before anything is replaced."""
    db = project.db_path
    backup(project)
    execute(db, "UPDATE items SET qty = 5 WHERE id < 100")
    child = backup(project)
    data = folder(project, child.backup_id) / "data"
    raw = bytearray(data.read_bytes())
    raw[-100] ^= 0x55  # inside the last stored page
    data.write_bytes(bytes(raw))
    reseal(folder(project, child.backup_id) / "manifest.json", "data", bytes(raw))
    before = db.read_bytes()
    # (a small delta is compressed: the flipped byte already fails its zlib check)
    with project.engine() as engine, pytest.raises(
        BackupError, match="was not rebuilt|compressed pages are damaged"
    ):
        engine.restore_backup(child.backup_id, confirm=True)
    assert db.read_bytes() == before


def test_check_pages_skips_sqlite_checks_only(project: Project) -> None:
    configure(project, check="pages")
    db = project.db_path
    backup(project)
    execute(db, "UPDATE items SET qty = 6 WHERE id < 1000")
    child = backup(project)
    expected = user_rows(db)
    execute(db, "DELETE FROM items")
    restore(project, child.backup_id)
    assert user_rows(db) == expected
    assert integrity(db) == "ok"


def test_prune_keeps_the_chain_a_kept_increment_needs(project: Project) -> None:
    configure(project, max_chain=1, rebase_ratio=1.0)
    infos = []
    for _ in range(5):  # each rewrites more than half of the base's bytes (see above)
        execute(project.db_path, "UPDATE items SET payload = randomblob(100)")
        infos.append(backup(project))
    assert [i.extra["kind"] for i in infos] == ["base", "increment", "increment", "base",
                                                "increment"]
    expected = user_rows(project.db_path)
    with project.engine() as engine:
        assert engine.cleanup_old_backups(keep_days=0, keep_count=1) == 3
        left = [b["backup_id"] for b in engine.get_backup_history()]
    assert left == [infos[3].backup_id, infos[4].backup_id]
    execute(project.db_path, "DELETE FROM items")
    restore(project, infos[4].backup_id)
    assert user_rows(project.db_path) == expected


def test_a_chain_written_by_format_2_is_restored_and_built_on(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backups of the previous format (sparse indexes without page numbers or block digests)
    stay restorable, and the next increment builds on their chain."""
    from mig_sqlite.backup import incremental, pages

    def write_format_2(self: pages.Index, path: Path, stored: list[int] | None = None) -> None:
        size = self.digest_size
        body = self.digests if stored is None else b"".join(
            self.digests[(p - 1) * size:p * size] for p in stored)
        magic = pages.INDEX_MAGIC if stored is None else b"MIGPIDXS"
        path.write_bytes(pages.INDEX_HEADER.pack(magic, self.hash_name.encode(), size, 0,
                                                 self.page_size, self.page_count) + body)

    db = project.db_path
    with monkeypatch.context() as old:
        old.setattr(incremental, "FORMAT", 2)
        old.setattr(pages.Index, "write", write_format_2)
        points = [(backup(project), user_rows(db))]
        for n in range(2):
            execute(db, f"UPDATE items SET qty = {n + 500} WHERE id BETWEEN 100 AND 300")
            points.append((backup(project), user_rows(db)))
    assert [info.extra["format"] for info, _ in points] == [2, 2, 2]
    incremental.LAST_INDEX.clear()  # as a new process: the chain is read back from its parts
    execute(db, "UPDATE items SET qty = 7 WHERE id BETWEEN 5000 AND 5100")
    newer = backup(project)
    assert newer.extra["format"] == 3
    assert newer.parent_id == points[-1][0].backup_id
    assert 0 < newer.extra["pages_stored"] < newer.extra["page_count"] // 10
    points.append((newer, user_rows(db)))
    for info, rows in points:
        incremental.LAST_INDEX.clear()
        restore(project, info.backup_id)
        assert user_rows(db) == rows
        assert integrity(db) == "ok"
