"""``mig lint`` and ``mig test`` findings, when the plugins that add them are installed.

They are separate distributions and this plugin does not depend on them: the page runs the
command in a subprocess (its own interpreter's ``mig``) and shows what it printed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass

from mig.config import Config

#: command -> the module its plugin installs
COMMANDS = {"lint": "mig_lint", "test": "mig_migtest"}
TIMEOUT = 300


@dataclass
class Result:
    command: str
    exit_code: int
    output: str


def available() -> list[str]:
    """The commands whose plugin is installed."""
    return [cmd for cmd, module in COMMANDS.items() if importlib.util.find_spec(module)]


def run(command: str, config: Config) -> Result:
    """Run ``mig COMMAND`` for the project of ``config``."""
    args = [sys.executable, "-m", "mig"]
    if config.path is not None:
        args += ["--config", str(config.path)]
    args.append(command)
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                              cwd=config.base_dir, check=False)
    except subprocess.TimeoutExpired:
        return Result(command, -1, f"`mig {command}` took more than {TIMEOUT} s; stopped")
    return Result(command, done.returncode, (done.stdout + done.stderr).strip())
