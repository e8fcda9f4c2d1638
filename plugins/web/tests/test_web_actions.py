"""The pages and actions of ``mig serve`` over real HTTP: what they show, and that actions go
through the engine (same plan, same confirmation, same lock) and record who asked."""

from __future__ import annotations

import re

import pytest
from mig.testing import Project
from web_helpers import Client, Serve


def post(client: Client, path: str, data: dict[str, str], page: str = "/") -> str:
    """POST an action with the CSRF token of ``page``; the finished job page."""
    reply = client.post(path, {"csrf": client.get(page).csrf(), **data})
    assert reply.status == 303, reply.body
    return client.wait_job(reply.headers["location"])


def test_migration_ids_with_a_slash_have_pages(mig_project: Project, serve: Serve) -> None:
    # Sqitch changes may sit in subfolders of deploy/ (``schemas/users``), and ids are
    # URL-encoded in links.
    mig_project.write_config(mig_project.config_path.read_text(), migrations_dir=".",
                             migrations_format="sqitch", backup="none")
    plan = ("%syntax-version=1.0.0\n%project=shop\n\n"
            "schemas/users 2024-01-01T00:00:00Z Ann <ann@example.com> # users\n"
            "orders+v2 [schemas/users] 2024-01-02T00:00:00Z Ann <ann@example.com> # orders\n")
    (mig_project.path / "sqitch.plan").write_text(plan)
    for change, table in (("schemas/users", "users"), ("orders+v2", "orders")):
        for kind, sql in (("deploy", f"CREATE TABLE {table} (id INTEGER);\n"),
                          ("revert", f"DROP TABLE {table};\n")):
            path = mig_project.path / kind / f"{change}.sql"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(sql)
    mig_project.ok("up")
    client = serve(mig_project)
    client.login()
    status = client.get("/").body
    assert 'href="/migrations/schemas/users"' in status
    assert 'href="/migrations/orders%2Bv2"' in status
    for path, table in (("/migrations/schemas/users", "users"),
                        ("/migrations/orders%2Bv2", "orders")):
        reply = client.get(path)
        assert reply.status == 200 and f"{table}" in reply.body
    graph = client.get("/graph").body
    assert 'href="/migrations/orders%2Bv2"' in graph
    assert 'href="/migrations/schemas/users"' in graph


def test_pages_show_the_example(example: Project, serve: Serve) -> None:
    client = serve(example)
    client.login()
    status = client.get("/").body
    assert '<b id="count-applied">5</b>' in status and "005_add_user_preferences" in status
    graph = client.get("/graph").body
    assert graph.count('class="node applied"') == 5
    history = client.get("/history").body
    assert history.count("<tr class=\"op-apply\">") == 5
    assert client.get("/history?operation=rollback").body.count("<tr class=\"op-") == 0
    code = client.get("/migrations/003_create_orders_table").body
    assert '<div class="highlight sql">' in code or 'class="sql"' in code
    assert re.search(r'<span class="k">CREATE</span>', code)
    assert client.get("/migrations/999_nope").status == 404
    assert "Nothing to apply" in client.get("/plan?target=").body
    checks = client.get("/checks").body
    assert "Run mig" in checks or "is installed" in checks
    backups = client.get("/backups").body
    assert backups.count("Restore…") == 5


def test_apply_and_roll_back_record_who_did_it(example: Project, serve: Serve) -> None:
    with example.engine() as eng:
        eng.down(steps=2, method="down")
    client = serve(example)
    client.login()
    page = post(client, "/actions/up", {"target": "004"})
    assert "applied" not in page or "COMPLETED 004_create_trades_table" in page
    assert example.applied()[-1] == "004_create_trades_table"
    newest = example.executions()[-1]
    assert newest["actor"].startswith("web:") and newest["actor"].endswith("@127.0.0.1")
    # Roll back by DOWN SQL: nothing is lost, no confirmation needed.
    execution = newest["execution_id"]
    form = client.get(f"/rollback/{execution}?method=down")
    plan = re.search(r'name="plan" value="([0-9a-f]+)"', form.body)
    assert plan and "004_create_trades_table" in form.body and 'id="confirm"' not in form.body
    page = post(client, "/actions/rollback",
                {"execution_id": execution, "method": "down", "plan": plan.group(1)},
                f"/rollback/{execution}")
    assert 'class="ok"' in page
    rows = example.executions()
    assert rows[-1]["operation"] == "rollback" and rows[-1]["actor"].startswith("web:")
    assert "004_create_trades_table" not in example.applied()


def test_roll_back_by_restore_needs_the_same_confirmation(
        example: Project, serve: Serve) -> None:
    client = serve(example)
    client.login()
    execution = example.executions("005_add_user_preferences")[-1]["execution_id"]
    form = client.get(f"/rollback/{execution}?method=restore").body
    assert "everything written to the database after it is lost" in form
    assert 'id="confirm"' in form
    plan = re.search(r'name="plan" value="([0-9a-f]+)"', form)
    assert plan
    data = {"execution_id": execution, "method": "restore", "plan": plan.group(1)}
    page = post(client, "/actions/rollback", data, f"/rollback/{execution}")
    assert "not confirmed" in page and 'class="error"' in page
    assert "005_add_user_preferences" in example.applied()  # nothing changed
    stale = post(client, "/actions/rollback", {**data, "plan": "0" * 16, "confirm": "yes"},
                 f"/rollback/{execution}")
    assert "plan changed" in stale and "005_add_user_preferences" in example.applied()
    page = post(client, "/actions/rollback", {**data, "confirm": "yes"}, f"/rollback/{execution}")
    assert 'class="ok"' in page, page
    assert "005_add_user_preferences" not in example.applied()
    assert example.executions()[-1]["actor"].startswith("web:")


def test_backup_create_verify_restore_prune(example: Project, serve: Serve) -> None:
    client = serve(example)
    client.login()
    page = post(client, "/actions/backup/create", {"type": "full"}, "/backups")
    created = re.search(r"created backup (\S+)", page)
    assert created, page
    backup_id = created.group(1)
    page = post(client, "/actions/backup/verify", {"backup_id": backup_id}, "/backups")
    assert f"{backup_id}: OK" in page
    assert '<span class="ok">OK</span>' in client.get("/backups").body  # verified this session
    restore_form = client.get(f"/backups/{backup_id}/restore").body
    assert "everything written to the database after it is lost" in restore_form
    refused = post(client, "/actions/backup/restore", {"backup_id": backup_id}, "/backups")
    assert "confirm it" in refused and 'class="error"' in refused
    page = post(client, "/actions/backup/restore", {"backup_id": backup_id, "confirm": "yes"},
                "/backups")
    assert f"restored {backup_id}" in page
    restore = example.executions()[-1]
    assert restore["operation"] == "restore" and restore["actor"].startswith("web:")
    bad = client.post("/actions/backup/prune", {"csrf": client.get("/backups").csrf(),
                                                "keep_count": "abc"})
    assert bad.status == 400 and "whole number" in bad.body
    page = post(client, "/actions/backup/prune", {"keep_days": "0", "keep_count": "1"},
                "/backups")
    assert "removed" in page and 'class="ok"' in page


def test_a_failing_migration_shows_its_error(example: Project, serve: Serve) -> None:
    example.write_migration("006_broken", "CREATE TABLE nope (;", "DROP TABLE nope;")
    client = serve(example)
    client.login()
    page = post(client, "/actions/up", {}, "/plan")
    assert "FAILED" in page and 'class="error"' in page
    status = client.get("/").body
    assert '<b id="count-failed">1</b>' in status and "006_broken" in status
    assert "FAILED" in client.get("/history?status=FAILED").body


def test_checks_run_the_lint_plugin_when_installed(example: Project, serve: Serve) -> None:
    import importlib.util

    if importlib.util.find_spec("mig_lint") is None:
        pytest.skip("mig-lint is not installed (optional)")
    example.write_migration("006_drop", "DROP TABLE trades;", "")
    client = serve(example)
    client.login()
    page = client.get("/checks?run=lint").body
    assert re.search(r"mig lint: exit [1-9]", page), page  # the DROP without a DOWN is found
    assert "006_drop" in page
