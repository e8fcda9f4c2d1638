"""Session-wide reporting for tests/: the ledger model's step counts per dialect."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Read from the reports, not from the model's module: under pytest-xdist the model ran
    # in a worker process and only its report came back.
    figures = [value for kind in ("passed", "failed") for report in
               terminalreporter.stats.get(kind, []) if report.when == "call"
               for name, value in getattr(report, "user_properties", ())
               if name == "ledger_model"]
    if not figures:
        return
    terminalreporter.section("ledger model")
    verbose = terminalreporter.config.getoption("verbose") > 0
    for fig in sorted(figures, key=lambda f: f["dialect"]):
        terminalreporter.write_line(
            f"{fig['dialect']}: {fig['steps']} steps in {fig['examples']} examples,"
            f" {fig['seconds']:.1f}s"
        )
        if verbose:
            for what, n in sorted(fig["outcomes"].items()):
                terminalreporter.write_line(f"    {n:5d}  {what}")
