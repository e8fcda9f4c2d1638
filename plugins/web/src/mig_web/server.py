"""``mig serve``: read the settings, refuse unsafe ones, print the URL and run uvicorn."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys
from dataclasses import dataclass
from typing import Any

from mig.config import Config, load_config
from mig.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: ``[mig.options.web]`` keys and their types.
OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "host": str, "port": int, "read_only": bool, "token": str, "token_file": str,
}


@dataclass
class Settings:
    """How the server runs. ``token`` None means no token is asked for (loopback only)."""

    config: Config
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    read_only: bool = False
    token: str | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{query}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def options(config: Config) -> dict[str, Any]:
    """``[mig.options.web]``, checked."""
    table = config.options.get("web", {})
    where = f"{config.path or 'config'}: [mig.options.web]"
    for key, value in table.items():
        if key not in OPTION_TYPES:
            raise ConfigError(f"{where}: unknown key {key!r}")
        if not isinstance(value, OPTION_TYPES[key]) or (
                isinstance(value, bool) and OPTION_TYPES[key] is int):
            raise ConfigError(f"{where}: {key} has the wrong type: {value!r}")
    return dict(table)


def resolve(config: Config, *, host: str | None = None, port: int | None = None,
            read_only: bool = False, no_token: bool = False,
            environ: dict[str, str] | None = None) -> Settings:
    """The settings from the options, ``MIG_WEB_TOKEN`` and ``[mig.options.web]``; refuses
    a bind beyond loopback without a token (exit 2)."""
    env = os.environ if environ is None else environ
    opts = options(config)
    host = host or opts.get("host") or DEFAULT_HOST
    port = DEFAULT_PORT if port is None and "port" not in opts else (
        port if port is not None else int(opts["port"]))
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, not {port}")
    token: str | None
    if no_token:
        token = None
    elif env.get("MIG_WEB_TOKEN"):
        token = env["MIG_WEB_TOKEN"]
    elif opts.get("token"):
        token = str(opts["token"])
    elif opts.get("token_file"):
        path = (config.base_dir / str(opts["token_file"])).resolve()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the web token file {path}: {exc.strerror}") from None
        if not token:
            raise ConfigError(f"the web token file {path} is empty")
    else:
        token = secrets.token_urlsafe(24)
    if token is None and not is_loopback(host):
        raise ConfigError(f"refusing to serve on {host} without a token: anyone who can reach"
                          " it could change the database; drop --no-token or bind 127.0.0.1")
    if port == 0:
        port = free_port(host)
    return Settings(config=config, host=host, port=port,
                    read_only=read_only or bool(opts.get("read_only")), token=token)


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host.strip("[]"), 0))
        port: int = sock.getsockname()[1]
        return port


def serve(*, host: str | None, port: int | None, read_only: bool, no_token: bool) -> None:
    """Run the server until interrupted (the body of ``mig serve``)."""
    import uvicorn
    from mig.cli import options as cli

    from .app import create_app

    config = load_config(cli.config, database=cli.database)
    settings = resolve(config, host=host, port=port, read_only=read_only, no_token=no_token)
    app = create_app(settings)
    mode = " (read-only)" if settings.read_only else ""
    print(f"mig web interface{mode}: {settings.url}", flush=True)
    if settings.token is None:
        print("no token: anyone on this machine can use it", flush=True)
    sys.stdout.flush()
    uvicorn.run(app, host=settings.host.strip("[]"), port=settings.port, log_level="warning")


__all__ = ["Settings", "resolve", "serve", "is_loopback"]
