"""Splitting a section of SQL into statements at its top-level semicolons.

A compiled tokenizer jumps from one interesting token to the next: a semicolon, a whole string
or quoted name, a whole comment, a dollar-quoted body. Everything in between is plain SQL and
never visited character by character in Python, so a megabyte of INSERTs splits in a few tens of
milliseconds.

Statements whose body may hold semicolons of its own (``CREATE TRIGGER ... BEGIN ... END``,
MySQL ``CREATE PROCEDURE/FUNCTION/EVENT`` without ``DELIMITER``, PostgreSQL ``BEGIN ATOMIC``)
are recognised from their first words and scanned with a second tokenizer that also sees
``BEGIN``, ``CASE`` and ``END``, so a semicolon only ends them at block depth 0. A PostgreSQL
``CREATE RULE ... DO (a; b)`` likewise ends only outside its parentheses.

MySQL files written for the ``mysql`` client may change the delimiter: a ``DELIMITER //`` line
where a statement would begin makes ``//`` end statements (and ``;`` an ordinary character)
until ``DELIMITER ;``. The command itself is the client's, never sent to the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mig import MigrationFileError, Statement

_FAMILIES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}

# CREATE [OR REPLACE] [TEMP] [DEFINER=x] [SQL SECURITY y] [CONSTRAINT|AGGREGATE] TRIGGER ...
_BLOCK_CREATE = re.compile(
    r"CREATE\s+(?:(?:OR\s+REPLACE|TEMP|TEMPORARY|CONSTRAINT|AGGREGATE|DEFINER\s*=\s*\S+"
    r"|SQL\s+SECURITY\s+\w+)\s+)*(?:TRIGGER|PROCEDURE|FUNCTION|EVENT|(?P<rule>RULE))(?![\w$])",
    re.IGNORECASE,
)
_NON_SPACE = re.compile(r"\S")
# The mysql client's command, recognised where a statement would begin: its argument is the
# first word after it, the rest of the line is ignored.
_DELIMITER = re.compile(r"DELIMITER(?!\w)[^\S\n]*(\S+)?[^\n]*", re.IGNORECASE)
_NESTED_COMMENT = re.compile(r"/\*|\*/")

_WORD = r"[\w$]"


def _quoted(q: str, escapes: bool) -> str:
    # Unrolled loops with possessive quantifiers: linear even when the quote never closes.
    if escapes:
        return rf"{q}[^{q}\\]*+(?:(?:{q}{q}|\\.)[^{q}\\]*+)*+{q}"
    return rf"{q}[^{q}]*+(?:{q}{q}[^{q}]*+)*+{q}"


_E_STRING = re.compile(_quoted("'", escapes=True), re.DOTALL)


@dataclass(frozen=True)
class _Rules:
    """The tokenizers of one dialect family."""

    plain: re.Pattern[str]
    block: re.Pattern[str]
    e_strings: bool
    executable_comments: bool


def _tokenizer(family: str, keywords: bool, delimiter: str = ";") -> re.Pattern[str]:
    """One alternative per token, each starting with a literal character and ending with an
    empty group that names it (``match.lastgroup``). Starting every alternative with a
    literal lets the regex engine skip plain SQL in C, looking for those characters only.
    ``delimiter`` is what ends a statement (first, so that it wins over a comment or quote
    that starts with the same character)."""
    backslash = family == "mysql"
    # A token comes whole (``string``) or, when the whole form cannot match, as a bare
    # opening (``bad_string``): that one is unterminated.
    parts = [
        re.escape(delimiter) + "(?P<semi>)",
        _quoted("'", backslash) + "(?P<string>)",
        _quoted('"', backslash) + "(?P<ident>)",
    ]
    if family == "mysql":
        # MySQL needs a space after "--" ("1--1" is arithmetic) and also knows "#".
        parts += [r"--(?=[\s\x00-\x1f]|\Z)[^\n]*(?P<line_comment>)", r"\#[^\n]*(?P<hash>)"]
    else:
        parts.append(r"--[^\n]*(?P<line_comment>)")
    if family == "postgresql":
        # Nested comments are closed in Python; E'...' strings are recognised by the letter
        # before an ordinary string. A "$" after a word is part of it (a$b), and "$1" is a
        # parameter: neither starts a dollar quote.
        parts += [
            r"/\*(?P<nested_comment>)",
            rf"\$(?<!{_WORD}\$)(?P<tag>(?:[^\W\d]\w*)?)\$.*?\$(?P=tag)\$(?P<dollar>)",
            rf"\$(?<!{_WORD}\$)(?:[^\W\d]\w*)?\$(?P<bad_dollar>)",
        ]
    else:
        parts += [
            r"/\*.*?\*/(?P<block_comment>)",
            r"/\*(?P<bad_block_comment>)",
            r"`[^`]*+(?:``[^`]*+)*+`(?P<ident_bt>)",
            r"`(?P<bad_ident_bt>)",
        ]
    if family == "sqlite":
        parts += [r"\[[^\]]*+\](?P<ident_br>)", r"\[(?P<bad_ident_br>)"]
    parts += [r"'(?P<bad_string>)", r'"(?P<bad_ident>)']
    flags = re.DOTALL
    if keywords:
        parts.append(
            # Whole words only: not begin_date, a$end or new.end (SQLite allows END as a name).
            rf"(?<![\w$.])(?:BEGIN|CASE|END(?:\s+(?:IF|LOOP|WHILE|REPEAT|CASE)(?!{_WORD}))?)"
            rf"(?!{_WORD})(?P<keyword>)"
        )
        parts += [r"\((?P<open_paren>)", r"\)(?P<close_paren>)"]
        flags |= re.IGNORECASE
    return re.compile("|".join(parts), flags)


@cache
def _rules(family: str) -> _Rules:
    return _Rules(
        plain=_tokenizer(family, keywords=False),
        block=_tokenizer(family, keywords=True),
        e_strings=family == "postgresql",
        executable_comments=family == "mysql",
    )


@cache
def _delimited(family: str, delimiter: str) -> re.Pattern[str]:
    """The tokenizer of ``family`` while a ``DELIMITER`` command has set ``delimiter``."""
    return _tokenizer(family, keywords=False, delimiter=delimiter)


_COMMENTS = {"line_comment", "hash", "block_comment", "nested_comment"}
_UNTERMINATED = {
    "bad_string": "string",
    "bad_ident": "quoted identifier",
    "bad_ident_bt": "quoted identifier",
    "bad_ident_br": "quoted identifier",
    "bad_block_comment": "block comment",
    "bad_dollar": "dollar-quoted string",
}


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_" or char == "$"


def split_sql(
    sql: str, dialect: str = "generic", *, first_line: int = 1, path: Path | None = None
) -> list[Statement]:
    """Split ``sql`` into statements without their closing semicolons.

    ``dialect`` is a dialect name; ``postgresql`` and ``mysql`` (and ``mariadb``) get their own
    quoting and comment rules, every other name SQLite's. ``first_line`` is the line of
    ``path`` that ``sql`` starts on; each statement's line is the one of its first character
    that is neither blank nor inside a comment. Comment-only text yields no statement.
    """
    family = _FAMILIES.get(dialect.lower(), "sqlite")
    rules = _rules(family)
    statements: list[Statement] = []
    # Line numbers are counted incrementally: positions asked for only grow.
    counted_pos = 0
    counted_line = first_line

    def line_at(pos: int) -> int:
        nonlocal counted_pos, counted_line
        if pos < counted_pos:
            return first_line + sql.count("\n", 0, pos)
        counted_line += sql.count("\n", counted_pos, pos)
        counted_pos = pos
        return counted_line

    def fail(kind: str, pos: int) -> MigrationFileError:
        return MigrationFileError(f"unterminated {kind} starting here", path, line_at(pos))

    end = len(sql)
    pos = 0
    start = -1  # where the current statement's code begins; -1 before its first code
    plain = tokenizer = rules.plain  # plain: the tokenizer a new statement starts with
    delimiting = family == "mysql"  # whether DELIMITER lines are the client's command
    custom = False  # whether a DELIMITER other than ";" is in force
    openers: list[tuple[str, int]] = []  # BEGIN/CASE blocks open in a block statement
    parens = False  # whether parentheses are openers too (a rule's actions)

    def finish(stop: int, gap_from: int) -> None:
        # Comments between the statement's last code and its end are not part of it.
        if tail >= 0 and _NON_SPACE.search(sql, gap_from, stop) is None:
            stop = tail
        text = sql[start:stop].rstrip()
        if text:
            statements.append(Statement(text, line_at(start)))

    tail = -1  # where the comments trailing the current statement's code begin, if any
    while True:
        match = tokenizer.search(sql, pos)
        found = match.start() if match else end
        if start < 0:
            code = _NON_SPACE.search(sql, pos, found)
            if code is not None:
                start = code.start()
                command = _DELIMITER.match(sql, start) if delimiting else None
                if command is not None:
                    delimiter = command.group(1)
                    if delimiter is None:
                        raise MigrationFileError(
                            "DELIMITER must be followed by a delimiter", path, line_at(start)
                        )
                    custom = delimiter != ";"
                    plain = tokenizer = _delimited(family, delimiter) if custom else rules.plain
                    pos, start = command.end(), -1
                    continue
                block = None if custom else _BLOCK_CREATE.match(sql, start)
                if block is not None:
                    # Rescan from its first word with the tokenizer that sees BEGIN/END.
                    tokenizer = rules.block
                    parens = block.group("rule") is not None
                    pos = start
                    continue
        if match is None:
            break
        kind = match.lastgroup
        gap_from, pos = pos, match.end()
        if kind == "semi":
            if openers:
                tail = -1
                continue
            if start >= 0:
                finish(found, gap_from)
            start = tail = -1
            tokenizer = plain
            continue
        if kind == "nested_comment":
            pos = _close_nested_comment(sql, pos)
            if pos < 0:
                raise fail("block comment", found)
        elif kind == "block_comment" and rules.executable_comments and sql[found + 2] == "!":
            kind = "executable_comment"  # MySQL runs /*! ... */ as SQL
        elif (
            (kind == "string" or kind == "bad_string")
            and rules.e_strings
            and found
            and sql[found - 1] in "Ee"
            and not (found > 1 and _is_word_char(sql[found - 2]))
        ):
            e_string = _E_STRING.match(sql, found)
            if e_string is None:
                raise fail("string", found - 1)
            kind, pos = "string", e_string.end()
        if kind in _COMMENTS:
            if start >= 0 and (tail < 0 or _NON_SPACE.search(sql, gap_from, found)):
                tail = found
            continue
        if kind in _UNTERMINATED:
            raise fail(_UNTERMINATED[kind], found)
        tail = -1
        if kind == "keyword":
            word = match.group().upper()
            if word == "BEGIN" or word == "CASE":
                openers.append((word, found))
            elif openers and (word == "END" or word.endswith("CASE")):
                openers.pop()
            # END IF / END LOOP / END WHILE / END REPEAT close what was never counted.
        elif kind == "open_paren":
            if parens:
                openers.append(("(", found))
        elif kind == "close_paren":
            if parens and openers and openers[-1][0] == "(":
                openers.pop()
        elif start < 0:
            start = found  # a statement that begins with a string, quoted name or /*! */

    if openers:
        word, opened = openers[0]
        raise fail("parenthesis" if word == "(" else f"{word} ... END block", opened)
    if start >= 0:
        finish(end, pos)
    return statements


def _close_nested_comment(sql: str, pos: int) -> int:
    """The end of a PostgreSQL block comment opened just before ``pos``, or -1."""
    depth = 1
    for match in _NESTED_COMMENT.finditer(sql, pos):
        depth += 1 if match.group() == "/*" else -1
        if depth == 0:
            return match.end()
    return -1
