"""Parsing a migration's sections with sqlglot, and the questions rules ask of the trees.

sqlglot parses most DDL into typed trees (``exp.Create``, ``exp.Alter``, ``exp.Drop``...). What
it does not model (``VACUUM``, ``ALTER TYPE``, MySQL ``RENAME TABLE``, SQLite triggers) comes
back as ``exp.Command``; for those the rest of the statement is run through sqlglot's tokenizer
and rules look at its words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import cache

from mig import Statement
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.parser import Parser
from sqlglot.tokens import Tokenizer

from .model import ParsedStatement

#: mig's dialect names -> sqlglot's.
SQLGLOT_NAMES = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql"}

# sqlglot logs a warning for every statement it keeps as a Command; that is expected here.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


@cache
def _reader(dialect: str) -> tuple[Tokenizer, Parser]:
    """One tokenizer and one parser per dialect, reused: each resets itself per statement, and
    making them anew for every statement costs a fifth of the parsing time."""
    sg = Dialect.get_or_raise(SQLGLOT_NAMES[dialect])
    return sg.tokenizer(), sg.parser()


def parse_section(
    statements: Sequence[Statement], section: str, dialect: str
) -> list[ParsedStatement]:
    """Parse each statement of one section with sqlglot's parser for ``dialect``."""
    tokenizer, parser = _reader(dialect)
    parsed = []
    for statement in statements:
        try:
            trees = parser.parse(tokenizer.tokenize(statement.sql), statement.sql)
        except SqlglotError as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            parsed.append(ParsedStatement(statement.sql, statement.line, section, None, message))
            continue
        # A trigger's body (SQLite's BEGIN ... END) comes back as a Block of its own
        # statements: the first is the CREATE TRIGGER itself, the rest belong to it.
        tree = next((t for t in trees if t is not None), None)
        if isinstance(tree, exp.Block) and tree.expressions:
            tree = tree.expressions[0]
        words = _command_words(tree, tokenizer) if isinstance(tree, exp.Command) else ()
        parsed.append(ParsedStatement(statement.sql, statement.line, section, tree, None, words))
    return parsed


def _command_words(tree: exp.Command, tokenizer: Tokenizer) -> tuple[str, ...]:
    head = str(tree.this or "").upper().split()
    rest = tree.expression
    text = rest.this if isinstance(rest, exp.Literal) else str(rest or "")
    try:
        tokens = [t.text for t in tokenizer.tokenize(str(text))]
    except SqlglotError:
        tokens = str(text).split()
    return (*head, *(t.upper() for t in tokens))


# -- questions about trees ---------------------------------------------------------------------


def name_of(node: exp.Expr | None) -> str:
    """The (unqualified, lower-cased) name of a table, column, index or identifier."""
    if node is None:
        return ""
    if isinstance(node, exp.Schema):
        node = node.this
    return str(node.name).lower() if node is not None else ""


def command(statement: ParsedStatement, *words: str) -> bool:
    """True when the statement is a Command starting with ``words``."""
    return statement.words[: len(words)] == words


def created(tree: exp.Expr | None) -> tuple[str, str, str] | None:
    """For a CREATE: (kind, name, table) with kind TABLE, VIEW, INDEX, TRIGGER, TYPE,
    FUNCTION... (table is the indexed table for an index, else the name)."""
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        target = tree.this
        if isinstance(target, exp.Index):
            return kind, name_of(target), name_of(target.args.get("table"))
        if isinstance(target, exp.UserDefinedFunction):
            return kind, name_of(target.this), name_of(target.this)
        return kind, name_of(target), name_of(target)
    return None


def command_created(statement: ParsedStatement) -> tuple[str, str, str] | None:
    """For ``CREATE TRIGGER ...`` (or other CREATE) kept as a Command: (kind, name, table)."""
    words = list(statement.words)
    if not words or words[0] != "CREATE":
        return None
    rest = [w for w in words[1:] if w not in {"OR", "REPLACE", "TEMP", "TEMPORARY"}]
    if not rest:
        return None
    kind = rest[0]
    rest = rest[1:]
    if rest[:3] == ["IF", "NOT", "EXISTS"]:
        rest = rest[3:]
    name = rest[0].lower().strip('"`') if rest else ""
    table = name
    if "ON" in rest:
        after = rest[rest.index("ON") + 1 :]
        table = after[0].lower().strip('"`') if after else name
    return kind, name, table


def alter_table(tree: exp.Expr | None) -> tuple[str, list[exp.Expr]] | None:
    """For ``ALTER TABLE``: (table, actions)."""
    if isinstance(tree, exp.Alter) and str(tree.args.get("kind") or "").upper() == "TABLE":
        return name_of(tree.this), list(tree.args.get("actions") or [])
    return None


def dropped(tree: exp.Expr | None) -> tuple[str, list[str]] | None:
    """For a DROP: (kind, names)."""
    if isinstance(tree, exp.Drop):
        kind = str(tree.args.get("kind") or "").upper()
        names = [name_of(t) for t in tree.args.get("tables") or []]
        if not names and tree.this is not None:
            names = [name_of(tree.this)]
        return kind, names
    return None


def tables_created_before(statements: Sequence[ParsedStatement]) -> list[set[str]]:
    """For each statement, the tables the statements before it created."""
    seen: set[str] = set()
    out: list[set[str]] = []
    for statement in statements:
        out.append(set(seen))
        what = created(statement.expression)
        if what and what[0] == "TABLE":
            seen.add(what[1])
    return out


def is_dml(tree: exp.Expr | None) -> bool:
    return isinstance(tree, exp.Insert | exp.Update | exp.Delete | exp.Merge)


def is_ddl(statement: ParsedStatement) -> bool:
    if isinstance(statement.expression, exp.Create | exp.Drop | exp.Alter | exp.TruncateTable):
        return True
    return bool(statement.words) and statement.words[0] in {
        "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE"
    }


def identifiers(statements: Iterable[ParsedStatement]) -> set[str]:
    """Every name the statements mention (lower-cased), from their trees and command words."""
    names: set[str] = set()
    for statement in statements:
        if statement.expression is not None:
            names.update(str(i.name).lower() for i in statement.expression.find_all(exp.Identifier))
        names.update(w.lower().strip('"`') for w in statement.words)
    return names
