"""Session-wide reporting for tests/: the ledger model's step counts per dialect."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    import sys

    model = sys.modules.get("ledger_model")  # only when tests/test_ledger_model.py ran
    if model is None or not model.STEPS:
        return
    terminalreporter.section("ledger model")
    for dialect in sorted(model.STEPS):
        terminalreporter.write_line(
            f"{dialect}: {model.STEPS[dialect]} steps in {model.EXAMPLES.get(dialect, 0)}"
            f" examples, {model.SECONDS.get(dialect, 0.0):.1f}s"
        )
        if config_verbose(terminalreporter):
            for what, n in sorted(model.OUTCOMES.get(dialect, {}).items()):
                terminalreporter.write_line(f"    {n:5d}  {what}")


def config_verbose(terminalreporter: Any) -> bool:
    return terminalreporter.config.getoption("verbose") > 0
