"""Fixtures for the web plugin's tests: a real server (uvicorn in a thread, on 127.0.0.1 and
a free port) over a copy of the bundled example."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from mig.config import load_config
from mig.testing import Project
from web_helpers import EXAMPLE_CONFIG, TOKEN, Client, Serve


@pytest.fixture
def example(example_project: Project) -> Project:
    """The bundled example with full backups, all applied."""
    example_project.write_config(EXAMPLE_CONFIG)
    with example_project.engine() as eng:
        eng.up()
    return example_project


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(project, read_only=False, token=TOKEN)``: a real server in a thread; a client."""
    import uvicorn
    from mig_web.app import create_app
    from mig_web.server import resolve

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(project: Project, *, read_only: bool = False, token: str | None = TOKEN,
              database: str | None = None) -> Client:
        config = load_config(project.config_path, database=database)
        settings = resolve(config, port=0, read_only=read_only, no_token=token is None,
                           environ={"MIG_WEB_TOKEN": token} if token else {})
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1",
                                               port=settings.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return Client(f"http://127.0.0.1:{settings.port}")

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)
