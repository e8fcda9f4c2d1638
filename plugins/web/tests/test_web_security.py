"""``mig serve``'s defences, over real HTTP: the access token, CSRF, read-only mode, the
loopback rule and the masked database password."""

from __future__ import annotations

import pytest
from mig.config import load_config
from mig.errors import ConfigError
from mig.testing import Project
from mig_web.server import resolve
from web_helpers import TOKEN, Serve

PAGES = ["/", "/plan", "/history", "/graph", "/backups", "/checks",
         "/migrations/001_create_users_table"]


def test_no_token_is_401_everywhere(example: Project, serve: Serve) -> None:
    client = serve(example)
    for path in PAGES:
        assert client.get(path).status == 401, path
    assert client.post("/actions/up", {"csrf": "x"}).status == 401


def test_wrong_token_is_401(example: Project, serve: Serve) -> None:
    client = serve(example)
    assert client.get("/?token=wrong").status == 401
    assert client.get("/", headers={"Authorization": "Bearer wrong"}).status == 401
    assert client.get("/", headers={"Cookie": "mig_token=wrong"}).status == 401
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}x"}).status == 401


def test_right_token_goes_to_a_cookie(example: Project, serve: Serve) -> None:
    client = serve(example)
    reply = client.get(f"/history?token={TOKEN}&status=FAILED")
    assert reply.status == 303
    assert reply.headers["location"] == "/history?status=FAILED"  # out of the address bar
    assert "HttpOnly" in reply.headers["set-cookie"]
    for path in PAGES:
        assert client.get(path).status == 200, path
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status == 200


def test_action_without_or_with_a_wrong_csrf_token_is_refused(
        example: Project, serve: Serve) -> None:
    with example.engine() as eng:
        eng.down(everything=True, method="down")
    client = serve(example)
    client.login()
    assert client.post("/actions/up", {}).status == 403
    assert client.post("/actions/up", {"csrf": "0" * 64}).status == 403
    assert example.applied() == []  # nothing ran
    other = serve(example)  # another session's token does not fit this session
    other.login()
    foreign = other.get("/").csrf()
    assert client.post("/actions/up", {"csrf": foreign}).status == 403
    assert client.post("/actions/up", {"csrf": client.get("/").csrf()},
                       headers={"Origin": "http://evil.example"}).status == 403
    assert example.applied() == []
    reply = client.post("/actions/up", {"csrf": client.get("/").csrf()})
    assert reply.status == 303  # the right token works
    assert "done" in client.wait_job(reply.headers["location"])
    assert len(example.applied()) == 5


def test_read_only_refuses_every_action(example: Project, serve: Serve) -> None:
    client = serve(example, read_only=True)
    client.login()
    page = client.get("/")
    assert "read-only" in page.body and "Roll back" not in page.body
    csrf = page.csrf() if 'name="csrf"' in page.body else "x"
    before = example.executions()
    stored = sorted(p.name for p in (example.path / "backups").iterdir())
    for path in ["/actions/up", "/actions/rollback", "/actions/backup/create",
                 "/actions/backup/verify", "/actions/backup/restore", "/actions/backup/prune"]:
        assert client.post(path, {"csrf": csrf, "confirm": "yes"}).status == 403, path
    assert example.executions() == before
    assert sorted(p.name for p in (example.path / "backups").iterdir()) == stored


def test_no_token_only_on_loopback(example: Project) -> None:
    config = load_config(example.config_path)
    with pytest.raises(ConfigError, match="without a token"):
        resolve(config, host="0.0.0.0", no_token=True, port=1)
    with pytest.raises(ConfigError, match="without a token"):
        resolve(config, host="192.0.2.1", no_token=True, port=1)
    assert resolve(config, host="::1", no_token=True, port=1).token is None
    assert resolve(config, host="0.0.0.0", port=1).token  # a token is made
    assert resolve(config, port=1, environ={"MIG_WEB_TOKEN": "abc"}).token == "abc"
    result = example.run("serve", "--host", "0.0.0.0", "--no-token", "--port", "0")
    assert result.code == 2
    assert "mig: error: refusing to serve on 0.0.0.0 without a token" in result.err


def test_token_from_config(example: Project) -> None:
    (example.path / "web.token").write_text("from-file\n")
    example.write_config(EXAMPLE_CONFIG_WITH_OPTIONS)
    settings = resolve(load_config(example.config_path), environ={})
    assert settings.token == "from-file" and settings.read_only and settings.port == 9999
    example.write_config(EXAMPLE_CONFIG_WITH_OPTIONS.replace("token_file", "tokn_file"))
    with pytest.raises(ConfigError, match="unknown key 'tokn_file'"):
        resolve(load_config(example.config_path), environ={})


EXAMPLE_CONFIG_WITH_OPTIONS = """\
[mig]
database = "sqlite:///app.db"
[mig.options.web]
token_file = "web.token"
read_only = true
port = 9999
"""


def test_the_database_password_never_reaches_the_page(example: Project, serve: Serve) -> None:
    secret = "hunter2-S3cret"
    client = serve(example, database=f"postgresql://mig:{secret}@127.0.0.1:9/nodb")
    client.login()
    for path in PAGES:
        reply = client.get(path)
        assert secret not in reply.body, path
    assert "***" in client.get("/").body or "error" in client.get("/").body


def test_no_token_mode_still_needs_csrf(example: Project, serve: Serve) -> None:
    client = serve(example, token=None)
    assert client.get("/").status == 200
    assert client.post("/actions/backup/create", {}).status == 403
    reply = client.post("/actions/backup/create", {"csrf": client.get("/backups").csrf()})
    assert reply.status == 303
