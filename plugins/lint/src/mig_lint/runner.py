"""Running the rules over migrations: collecting them from plugins, applying each to the
migrations of its dialects, and honouring ``-- @lint-ignore`` headers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mig import Migration, PluginError, Statement

from .model import Finding, LintContext, ParsedMigration, Rule, Severity
from .parse import parse_section

#: The header that silences rules for one migration: ``-- @lint-ignore: rule-a, rule-b  why``.
IGNORE_HEADER = "lint-ignore"
#: The id of findings about the ignore header itself (they cannot be silenced).
IGNORE_RULE = "lint-ignore"

Splitter = Callable[[Migration, str], list[Statement]]


def collect_rules(results: Iterable[Sequence[object] | None]) -> list[Rule]:
    """The rules returned by every plugin's ``mig_register_lint_rules``: classes are
    instantiated; anything not following the rule protocol, and a repeated id, is refused."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for batch in results:
        for item in batch or ():
            rule = item() if isinstance(item, type) else item
            if not isinstance(rule, Rule) or not isinstance(rule.id, str) or not rule.id:
                raise PluginError(
                    f"lint rule {item!r} does not follow the rule protocol (id, severity, "
                    "summary, fix, dialects, check)"
                )
            try:
                Severity(rule.severity)
            except ValueError:
                raise PluginError(
                    f"lint rule {rule.id!r} has severity {rule.severity!r}, not one of "
                    "error, warning, info"
                ) from None
            if rule.id in seen or rule.id == IGNORE_RULE:
                raise PluginError(f"two lint rules have the id {rule.id!r}")
            seen.add(rule.id)
            rules.append(rule)
    return rules


@dataclass(frozen=True)
class Ignore:
    """What a migration's ``@lint-ignore`` header silences."""

    rules: frozenset[str]
    reason: str
    line: int


def read_ignore(migration: Migration) -> Ignore | None:
    """The ``@lint-ignore`` header of ``migration`` (kept by the sqlfile parser in
    ``metadata`` as written), or None. Its value is rule ids separated by commas, then the
    reason: ``rule-a, rule-b  the table is empty``."""
    key = next((k for k in migration.metadata if k.lower() == IGNORE_HEADER), None)
    if key is None:
        return None
    tokens = migration.metadata[key].replace(",", ", ").split()
    ids: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.rstrip(","):
            ids.append(token.rstrip(","))
        if not token.endswith(","):
            break
    return Ignore(frozenset(ids), " ".join(tokens[i:]), migration.line_of(key))


def _ignore_findings(migration: Migration, ignore: Ignore, known: set[str]) -> list[Finding]:
    out = []
    fix = "write -- @lint-ignore: rule-id[, rule-id...]  reason"
    if not ignore.rules:
        out.append(Finding(IGNORE_RULE, Severity.WARNING, "@lint-ignore names no rule", fix,
                           migration.id, migration.path, ignore.line))
    for rule in sorted(ignore.rules - known):
        out.append(Finding(IGNORE_RULE, Severity.WARNING,
                           f"@lint-ignore names unknown rule {rule!r}", fix, migration.id,
                           migration.path, ignore.line))
    if ignore.rules and not ignore.reason:
        out.append(Finding(IGNORE_RULE, Severity.WARNING, "@lint-ignore gives no reason", fix,
                           migration.id, migration.path, ignore.line))
    return out


def lint(
    migrations: Iterable[Migration],
    split: Splitter,
    rules: Sequence[Rule],
    context: LintContext,
    disabled: Iterable[str] = (),
) -> list[Finding]:
    """Every finding of ``rules`` (those for ``context.dialect``, minus ``disabled``) on
    ``migrations``, in migration then line order."""
    active = [r for r in rules if r.id not in set(disabled)
              and (r.dialects is None or context.dialect in r.dialects)]
    known = {r.id for r in rules}
    findings: list[Finding] = []
    for migration in migrations:
        parsed = ParsedMigration(
            parse_section(split(migration, "up"), "up", context.dialect),
            parse_section(split(migration, "down"), "down", context.dialect),
        )
        ignore = read_ignore(migration)
        found: list[Finding] = []
        if ignore is not None:
            found.extend(_ignore_findings(migration, ignore, known))
        for rule in active:
            if ignore is not None and rule.id in ignore.rules:
                continue
            try:
                found.extend(rule.check(migration, parsed, context))
            except Exception as exc:  # a plugin's rule must not hide which one broke
                raise PluginError(f"lint rule {rule.id!r} failed on {migration.id}: "
                                  f"{type(exc).__name__}: {exc}") from exc
        findings.extend(sorted(found, key=lambda f: (f.line, f.rule)))
    return findings
