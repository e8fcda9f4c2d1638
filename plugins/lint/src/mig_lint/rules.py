"""The built-in rules of ``mig lint``. Each is registered through ``mig_register_lint_rules``
like a third-party rule would be (see :mod:`mig_lint.plugin`)."""

from __future__ import annotations

from collections.abc import Iterator

from mig import Migration
from sqlglot import exp

from .model import BaseRule, Finding, LintContext, ParsedMigration, ParsedStatement, Severity
from .parse import (
    alter_table,
    command,
    command_created,
    created,
    dropped,
    identifiers,
    is_ddl,
    is_dml,
    name_of,
)

_PG = frozenset({"postgresql"})
_PRAGMA_FK = "PRAGMA foreign_keys"


def _with_new_tables(parsed: ParsedMigration) -> Iterator[tuple[ParsedStatement, set[str]]]:
    """Each UP statement with the tables created before it in UP."""
    yield from zip(parsed.up, parsed.tables_created_before, strict=True)


class NonTransactionalStatement(BaseRule):
    id = "non-transactional-statement"
    severity = Severity.ERROR
    summary = "A statement that cannot run inside a transaction, in a transactional migration"
    fix = "move it to a migration of its own with @transactional: false"
    dialects = frozenset({"postgresql", "sqlite"})

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        if not migration.transactional:
            return
        for statement in parsed.all:
            what = self._why(statement, context)
            if what == _PRAGMA_FK:
                yield self.finding(migration, statement.line, f"{what} has no effect inside a "
                                   f"transaction ({statement.section.upper()}, @transactional "
                                   "is true)")
            elif what:
                yield self.finding(migration, statement.line, f"{what} cannot run in a transaction"
                                   f" ({statement.section.upper()}, @transactional is true)")

    @staticmethod
    def _why(statement: ParsedStatement, context: LintContext) -> str | None:
        tree = statement.expression
        if command(statement, "VACUUM"):
            return "VACUUM"
        if context.dialect == "sqlite":
            if isinstance(tree, exp.Pragma) and name_of(tree.this.this if isinstance(
                    tree.this, exp.EQ) else tree.this) == "foreign_keys":
                return _PRAGMA_FK
            return None
        if isinstance(tree, exp.Create | exp.Drop) and tree.args.get("concurrently"):
            kind = str(tree.args.get("kind") or "").upper()
            verb = "CREATE" if isinstance(tree, exp.Create) else "DROP"
            return f"{verb} {kind} CONCURRENTLY"
        if command(statement, "REINDEX") and "CONCURRENTLY" in statement.words:
            return "REINDEX CONCURRENTLY"
        if isinstance(tree, exp.Create | exp.Drop) and str(tree.args.get("kind")) == "DATABASE":
            return f"{'CREATE' if isinstance(tree, exp.Create) else 'DROP'} DATABASE"
        if command(statement, "CREATE", "DATABASE") or command(statement, "DROP", "DATABASE"):
            return f"{statement.words[0]} DATABASE"
        if command(statement, "ALTER", "SYSTEM"):
            return "ALTER SYSTEM"
        if command(statement, "CREATE", "TABLESPACE") or command(statement, "DROP", "TABLESPACE"):
            return f"{statement.words[0]} TABLESPACE"
        if (command(statement, "ALTER", "TYPE") and "ADD" in statement.words
                and "VALUE" in statement.words and context.postgres_version is not None
                and context.postgres_version < 12):
            return f"ALTER TYPE ... ADD VALUE (PostgreSQL {context.postgres_version})"
        return None


class DestructiveWithoutBackup(BaseRule):
    id = "destructive-without-backup"
    severity = Severity.ERROR
    summary = "DROP TABLE, DROP COLUMN or TRUNCATE in a migration with @backup_required: false"
    fix = "remove @backup_required: false so mig takes a backup first, or copy the data away"

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        if migration.backup_required:
            return
        for statement, new in _with_new_tables(parsed):
            for what in self._destroys(statement, new):
                yield self.finding(migration, statement.line,
                                   f"{what} loses data and @backup_required is false")

    @staticmethod
    def _destroys(statement: ParsedStatement, new: set[str]) -> Iterator[str]:
        tree = statement.expression
        drop = dropped(tree)
        if drop and drop[0] == "TABLE" and not (tree and tree.args.get("temporary")):
            for table in drop[1]:
                if table not in new:
                    yield f"DROP TABLE {table}"
        if isinstance(tree, exp.TruncateTable):
            for table in tree.expressions:
                yield f"TRUNCATE {name_of(table)}"
        if command(statement, "TRUNCATE"):
            yield "TRUNCATE"
        altered = alter_table(tree)
        if altered and altered[0] not in new:
            for action in altered[1]:
                if isinstance(action, exp.Drop) and str(action.args.get("kind")) == "COLUMN":
                    for column in action.args.get("tables") or []:
                        yield f"DROP COLUMN {altered[0]}.{name_of(column)}"


def _is_default_free(column: exp.ColumnDef) -> bool:
    """True for a NOT NULL column with nothing to fill existing rows with."""
    kinds = [c.args.get("kind") for c in column.args.get("constraints") or []]
    if not any(isinstance(k, exp.NotNullColumnConstraint) and not k.args.get("allow_null")
               for k in kinds):
        return False
    fills = (exp.DefaultColumnConstraint, exp.GeneratedAsIdentityColumnConstraint,
             exp.ComputedColumnConstraint, exp.AutoIncrementColumnConstraint,
             exp.GeneratedAsRowColumnConstraint)
    if any(isinstance(k, fills) for k in kinds):
        return False
    dtype = column.args.get("kind")
    serial = {exp.DataType.Type.SERIAL, exp.DataType.Type.BIGSERIAL,
              exp.DataType.Type.SMALLSERIAL}
    return not (isinstance(dtype, exp.DataType) and dtype.this in serial)


class AddColumnNotNullWithoutDefault(BaseRule):
    id = "add-column-not-null-without-default"
    severity = Severity.ERROR
    summary = "ALTER TABLE ... ADD COLUMN ... NOT NULL without a DEFAULT fails on a non-empty table"
    fix = ("give the column a DEFAULT, or add it NULL-able, backfill it, then make it NOT NULL "
           "in a later migration")
    # MySQL fills the type's implicit default (0, '') instead of failing.
    dialects = frozenset({"postgresql", "sqlite"})

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement, new in _with_new_tables(parsed):
            altered = alter_table(statement.expression)
            if not altered or altered[0] in new:
                continue
            for action in altered[1]:
                if isinstance(action, exp.ColumnDef) and _is_default_free(action):
                    yield self.finding(
                        migration, statement.line,
                        f"column {altered[0]}.{name_of(action)} is NOT NULL without a DEFAULT",
                    )


class IndexWithoutConcurrently(BaseRule):
    id = "index-without-concurrently"
    severity = Severity.WARNING
    summary = "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds"
    fix = "use CREATE INDEX CONCURRENTLY in a migration with @transactional: false"
    dialects = _PG

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement, new in _with_new_tables(parsed):
            what = created(statement.expression)
            tree = statement.expression
            if (what and what[0] == "INDEX" and what[2] not in new and tree is not None
                    and not tree.args.get("concurrently")):
                yield self.finding(migration, statement.line,
                                   f"index {what[1] or '(unnamed)'} on {what[2]} is built without "
                                   "CONCURRENTLY: writes to the table wait until it is done")


class ForeignKeyWithoutNotValid(BaseRule):
    id = "foreign-key-without-not-valid"
    severity = Severity.WARNING
    summary = ("A foreign key added to an existing table without NOT VALID checks every row "
               "while both tables are locked")
    fix = ("add the constraint with NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a "
           "later migration")
    dialects = _PG

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement, new in _with_new_tables(parsed):
            altered = alter_table(statement.expression)
            tree = statement.expression
            if not altered or altered[0] in new or tree is None or tree.args.get("not_valid"):
                continue
            for action in altered[1]:
                if action.find(exp.ForeignKey, exp.Reference) is not None:
                    yield self.finding(migration, statement.line,
                                       f"foreign key on {altered[0]} is added without NOT VALID")
                    break


class MysqlDdlWithDml(BaseRule):
    id = "mysql-ddl-with-dml"
    severity = Severity.WARNING
    summary = ("DDL and DML in one MySQL migration: every DDL statement commits implicitly, so a "
               "failure leaves the migration half applied")
    fix = "put the schema change and the data change in separate migrations"
    dialects = frozenset({"mysql"})

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for section in (parsed.up, parsed.down):
            ddl = next((s for s in section if is_ddl(s)), None)
            dml = next((s for s in section if is_dml(s.expression)), None)
            if ddl is not None and dml is not None:
                yield self.finding(
                    migration, dml.line,
                    f"{dml.section.upper()} mixes DML (line {dml.line}) with DDL (line "
                    f"{ddl.line}) that commits implicitly",
                )


class Rename(BaseRule):
    id = "rename"
    severity = Severity.WARNING
    summary = "A table or column rename breaks the running code that still uses the old name"
    fix = ("add the new name beside the old one (new column or view), move the code over, and "
           "drop the old name in a later migration")

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement, new in _with_new_tables(parsed):
            for table, old, to in self._renames(statement):
                if table not in new:  # renaming a table made here is a SQLite rebuild's end
                    yield self.finding(migration, statement.line, f"renames {old} to {to}")

    @staticmethod
    def _renames(statement: ParsedStatement) -> Iterator[tuple[str, str, str]]:
        """(table, what is renamed, new name) for each rename in the statement."""
        altered = alter_table(statement.expression)
        if altered:
            table, actions = altered
            for action in actions:
                if isinstance(action, exp.AlterRename):
                    yield table, f"table {table}", name_of(action.this)
                elif isinstance(action, exp.RenameColumn):
                    yield (table, f"{table}.{name_of(action.this)}",
                           name_of(action.args.get("to")))
                elif isinstance(action, exp.ModifyColumn) and action.args.get("rename_from"):
                    old = name_of(action.args.get("rename_from"))
                    if old != name_of(action.this):
                        yield table, f"{table}.{old}", name_of(action.this)
        if command(statement, "RENAME", "TABLE") and "TO" in statement.words:
            at = statement.words.index("TO")
            names, to = statement.words[2:at], statement.words[at + 1 : at + 2]
            if names and to:
                old = names[0].lower().strip("`")
                yield old, f"table {old}", to[0].lower().strip("`")


class DownDoesNotUndoUp(BaseRule):
    id = "down-does-not-undo-up"
    severity = Severity.ERROR
    summary = "A reversible migration whose DOWN is empty or leaves behind what UP created"
    fix = "drop in DOWN everything UP creates, or set @reversible: false"

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        if not migration.reversible or not parsed.up:
            return
        if not parsed.down:
            line = migration.down_line or migration.line_of("reversible")
            yield self.finding(migration, line, "@reversible is true but DOWN is empty")
            return
        touched = identifiers(parsed.down)
        dropped_tables = {n for s in parsed.down if (d := dropped(s.expression))
                          and d[0] == "TABLE" for n in d[1]}
        for statement, new in _with_new_tables(parsed):
            for kind, name, table in self._creates(statement):
                if table in new or name in touched or (kind != "TABLE" and table in dropped_tables):
                    continue
                yield self.finding(migration, statement.line,
                                   f"DOWN does not touch {kind.lower()} {name} that UP creates")

    @staticmethod
    def _creates(statement: ParsedStatement) -> Iterator[tuple[str, str, str]]:
        """(kind, name, table) of each object the statement creates; an index, trigger or
        column of a table that DOWN drops is undone with it."""
        what = created(statement.expression) or command_created(statement)
        if what and what[1]:
            yield what
        altered = alter_table(statement.expression)
        if altered:
            for action in altered[1]:
                if isinstance(action, exp.ColumnDef):
                    yield "COLUMN", name_of(action), altered[0]


_SQLITE_ALTER = (exp.ColumnDef, exp.Drop, exp.AlterRename, exp.RenameColumn)


class SqliteUnsupportedAlter(BaseRule):
    id = "sqlite-unsupported-alter"
    severity = Severity.ERROR
    summary = ("SQLite's ALTER TABLE only adds, drops and renames: other changes fail and need "
               "the table rebuilt")
    fix = ("rebuild the table: CREATE TABLE new, INSERT INTO new SELECT ... FROM old, DROP "
           "TABLE old, ALTER TABLE new RENAME TO old, then recreate its indexes and triggers")
    dialects = frozenset({"sqlite"})

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement in parsed.all:
            altered = alter_table(statement.expression)
            if not altered:
                continue
            for action in altered[1]:
                dropping_column = (isinstance(action, exp.Drop)
                                   and str(action.args.get("kind")) == "COLUMN")
                if not isinstance(action, _SQLITE_ALTER) or (
                        isinstance(action, exp.Drop) and not dropping_column):
                    what = action.key.upper().replace("COLUMN", " COLUMN").strip()
                    yield self.finding(migration, statement.line,
                                       f"SQLite cannot ALTER TABLE {altered[0]} ({what})")
                    break


class SqliteTableRebuild(BaseRule):
    id = "sqlite-table-rebuild"
    severity = Severity.WARNING
    summary = ("A SQLite table rebuilt by copy (INSERT ... SELECT, DROP, RENAME) rewrites every "
               "row and drops the old table's indexes and triggers")
    fix = ("recreate the table's indexes and triggers after the rename, and run "
           "PRAGMA foreign_key_check; prefer ADD/DROP/RENAME COLUMN where they suffice")
    dialects = frozenset({"sqlite"})

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        drops = {n for s in parsed.up if (d := dropped(s.expression)) and d[0] == "TABLE"
                 for n in d[1]}
        for statement in parsed.up:
            tree = statement.expression
            if not isinstance(tree, exp.Insert) or not isinstance(tree.expression, exp.Select):
                continue
            target = name_of(tree.this)
            sources = {name_of(t) for t in tree.expression.find_all(exp.Table)}
            for source in sorted(sources & drops - {target}):
                yield self.finding(migration, statement.line,
                                   f"rebuilds table {source} by copying it into {target}")


class UnparsableStatement(BaseRule):
    id = "unparsable-statement"
    severity = Severity.INFO
    summary = "sqlglot could not parse a statement, so no other rule checked it"
    fix = "check the statement's syntax for this dialect, or silence the rule with @lint-ignore"

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement in parsed.all:
            if statement.error is not None:
                yield self.finding(migration, statement.line,
                                   f"cannot parse {statement.section.upper()} statement for "
                                   f"{context.dialect}: {statement.error}")


class DownDropWithoutIfExists(BaseRule):
    id = "down-drop-without-if-exists"
    severity = Severity.INFO
    summary = ("DROP without IF EXISTS in the DOWN of a migration that can be left half "
               "applied (not transactional, or MySQL DDL)")
    fix = "write DROP ... IF EXISTS in DOWN so a rollback after a partial UP still runs"

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        if migration.transactional and context.dialect != "mysql":
            return
        for statement in parsed.down:
            tree = statement.expression
            drop = dropped(tree)
            # MySQL's DROP INDEX has no IF EXISTS (MariaDB's has).
            mysql_index = context.dialect == "mysql" and drop is not None and drop[0] == "INDEX"
            if drop and tree is not None and not tree.args.get("exists") and not mysql_index:
                yield self.finding(migration, statement.line,
                                   f"DROP {drop[0]} {', '.join(drop[1])} without IF EXISTS")


class AlterColumnType(BaseRule):
    id = "alter-column-type"
    severity = Severity.WARNING
    summary = "Changing a column's type rewrites the whole table under an exclusive lock"
    fix = ("add a column of the new type, backfill it in batches, switch the code over, then "
           "drop the old column")
    dialects = frozenset({"postgresql", "mysql"})

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement, new in _with_new_tables(parsed):
            altered = alter_table(statement.expression)
            if not altered or altered[0] in new:
                continue
            for action in altered[1]:
                column = None
                if isinstance(action, exp.AlterColumn) and action.args.get("dtype") is not None:
                    column = name_of(action)
                elif (isinstance(action, exp.ModifyColumn)
                      and not action.args.get("rename_from")):
                    column = name_of(action.this)
                if column:
                    yield self.finding(migration, statement.line,
                                       f"changes the type of {altered[0]}.{column}")


class SetNotNull(BaseRule):
    id = "set-not-null"
    severity = Severity.WARNING
    summary = "SET NOT NULL scans the whole table while holding an ACCESS EXCLUSIVE lock"
    fix = ("add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET "
           "NOT NULL (PostgreSQL 12+ then skips the scan)")
    dialects = _PG

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement, new in _with_new_tables(parsed):
            altered = alter_table(statement.expression)
            if not altered or altered[0] in new:
                continue
            for action in altered[1]:
                if isinstance(action, exp.AlterColumn) and action.args.get("allow_null") is False:
                    yield self.finding(migration, statement.line,
                                       f"SET NOT NULL on {altered[0]}.{name_of(action)}")


class DeleteWithoutWhere(BaseRule):
    id = "delete-without-where"
    severity = Severity.WARNING
    summary = "DELETE without WHERE in UP empties the table"
    fix = "add the WHERE clause you meant, or TRUNCATE with a backup if emptying is intended"

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterator[Finding]:
        for statement, new in _with_new_tables(parsed):
            tree = statement.expression
            if isinstance(tree, exp.Delete) and tree.args.get("where") is None:
                table = name_of(tree.this)
                if table not in new:
                    yield self.finding(migration, statement.line,
                                       f"DELETE FROM {table} without WHERE removes every row")


BUILTIN_RULES: tuple[type[BaseRule], ...] = (
    NonTransactionalStatement,
    DestructiveWithoutBackup,
    AddColumnNotNullWithoutDefault,
    IndexWithoutConcurrently,
    ForeignKeyWithoutNotValid,
    MysqlDdlWithDml,
    Rename,
    DownDoesNotUndoUp,
    SqliteUnsupportedAlter,
    SqliteTableRebuild,
    UnparsableStatement,
    DownDropWithoutIfExists,
    AlterColumnType,
    SetNotNull,
    DeleteWithoutWhere,
)
