"""The three outputs of ``mig lint``: human lines, JSON, and SARIF 2.1.0 for code review."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .model import Finding, Rule, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def shown_path(path: Path, base: Path | None = None) -> str:
    """``path`` relative to ``base`` (the working directory) when it is below it."""
    base = base or Path.cwd()
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def text_lines(findings: Sequence[Finding]) -> list[str]:
    """``path:line: severity rule-id message (fix: ...)``, one per finding."""
    return [f"{shown_path(f.path)}:{f.line}: {f.severity.value} {f.rule} {f.message} "
            f"(fix: {f.fix})" for f in findings]


def summary(findings: Sequence[Finding], migrations: int, dialect: str) -> str:
    counts = Counter(f.severity for f in findings)
    if not findings:
        return f"mig lint: {migrations} migration(s) checked for {dialect}, no findings"
    parts = ", ".join(f"{counts[s]} {s.value}(s)" for s in Severity if counts[s])
    return f"mig lint: {migrations} migration(s) checked for {dialect}: {parts}"


def as_json(findings: Sequence[Finding], migrations: int, dialect: str) -> dict[str, Any]:
    counts = Counter(f.severity for f in findings)
    return {
        "dialect": dialect,
        "migrations": migrations,
        "counts": {s.value: counts[s] for s in Severity},
        "findings": [f.to_dict() for f in findings],
    }


def as_sarif(findings: Sequence[Finding], rules: Sequence[Rule]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: every rule as a reportingDescriptor and every finding
    as a result located at its file and line (file URIs relative to the working directory,
    the ``%SRCROOT%`` base)."""
    index = {r.id: i for i, r in enumerate(rules)}
    descriptors = [
        {
            "id": r.id,
            "name": "".join(p.capitalize() for p in r.id.split("-")),
            "shortDescription": {"text": r.summary},
            "help": {"text": f"Fix: {r.fix}"},
            "defaultConfiguration": {"level": _SARIF_LEVEL[Severity(r.severity)]},
        }
        for r in rules
    ]
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message} (fix: {f.fix})"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.path), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": max(1, f.line)},
                },
            }],
        }
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "mig lint", "rules": descriptors}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
            "results": results,
        }],
    }


def _uri(path: Path) -> str:
    shown = shown_path(path)
    if os.path.isabs(shown):
        return path.resolve().as_uri()
    return Path(shown).as_posix()
