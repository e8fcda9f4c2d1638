"""``mig lint`` (plugins/lint): every rule fires on its mistake and stays quiet on the correct
form; the realistic sets of tests/data/lint/ give exactly the findings their files announce
(``-- @expect-lint: ...``); the command line's outputs and exit codes, in real subprocesses.

No test connects to a database: the dialect comes from the URL's scheme only.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from mig import ConfigError, Migration, PluginError, hookimpl
from mig.config import load_config
from mig.engine import MigrationEngine
from mig.plugins import Plugins
from mig.testing import Project
from mig_lint import BaseRule, Finding, LintContext, ParsedMigration, Severity
from mig_lint.parse import parse_section
from mig_lint.project import lint_project
from mig_lint.rules import BUILTIN_RULES, DownDoesNotUndoUp

DATA = Path(__file__).parent / "data" / "lint"
#: URLs nothing listens on: linting must never connect.
URLS = {
    "sqlite": "sqlite:///never-created.db",
    "postgresql": "postgresql://nobody@127.0.0.1:9/never",
    "mysql": "mysql://nobody@127.0.0.1:9/never",
}
LINE = re.compile(r"^(?P<path>[^:]+\.sql):(?P<line>\d+): (?P<severity>error|warning|info) "
                  r"(?P<rule>[a-z0-9-]+) (?P<message>.+) \(fix: (?P<fix>.+)\)$")


def configure(project: Project, dialect: str, extra: str = "") -> None:
    project.write_config(
        f'[mig]\ndatabase = "{URLS[dialect]}"\nmigrations_dir = "migrations"\n'
        f'backup = "none"\n{extra}'
    )


def lint_one(
    project: Project, dialect: str, up: str, down: str | None = "", headers: dict[str, Any] | None
    = None, **options: Any,
) -> list[Finding]:
    """Findings of one migration ``001_case`` linted for ``dialect``."""
    configure(project, dialect)
    project.write_migration("001_case", up, down, headers or {})
    with project.engine() as engine:
        return lint_project(engine, dialect=dialect, **options).findings


# -- every rule: one case that fires, one that stays quiet ------------------------------------

# rule id -> dialect, (up, down, headers) that must fire, (up, down, headers) that must not.
Case = tuple[str, tuple[str, str | None, dict[str, Any]], tuple[str, str | None, dict[str, Any]]]
NOT_REVERSIBLE: dict[str, Any] = {"reversible": False}
RULE_CASES: dict[str, Case] = {
    "non-transactional-statement": (
        "postgresql",
        ("CREATE INDEX CONCURRENTLY i ON t (a);", "DROP INDEX IF EXISTS i;", {}),
        ("CREATE INDEX CONCURRENTLY i ON t (a);", "DROP INDEX CONCURRENTLY IF EXISTS i;",
         {"transactional": False}),
    ),
    "destructive-without-backup": (
        "postgresql",
        ("ALTER TABLE t DROP COLUMN a;", None, {"reversible": False, "backup_required": False}),
        ("ALTER TABLE t DROP COLUMN a;", None, {"reversible": False}),
    ),
    "add-column-not-null-without-default": (
        "postgresql",
        ("ALTER TABLE t ADD COLUMN c int NOT NULL;", "ALTER TABLE t DROP COLUMN c;", {}),
        ("ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;", "ALTER TABLE t DROP COLUMN c;",
         {}),
    ),
    "index-without-concurrently": (
        "postgresql",
        ("CREATE UNIQUE INDEX i ON t (a);", "DROP INDEX i;", {}),
        ("CREATE TABLE t (a int);\nCREATE UNIQUE INDEX i ON t (a);", "DROP TABLE t;", {}),
    ),
    "foreign-key-without-not-valid": (
        "postgresql",
        ("ALTER TABLE t ADD COLUMN u_id int REFERENCES u (id);", "ALTER TABLE t DROP COLUMN u_id;",
         {}),
        ("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u_id) REFERENCES u (id) NOT VALID;",
         "ALTER TABLE t DROP CONSTRAINT fk;", {}),
    ),
    "mysql-ddl-with-dml": (
        "mysql",
        ("ALTER TABLE t ADD COLUMN c INT;\nUPDATE t SET c = 1 WHERE c IS NULL;",
         "ALTER TABLE t DROP COLUMN c;", {}),
        ("UPDATE t SET c = 1 WHERE c IS NULL;", None, NOT_REVERSIBLE),
    ),
    "rename": (
        "postgresql",
        ("ALTER TABLE t RENAME TO t2;", "ALTER TABLE t2 RENAME TO t;", {}),
        ("CREATE TABLE t_new (a int);\nALTER TABLE t_new RENAME TO t3;", "DROP TABLE t3;",
         {}),
    ),
    "down-does-not-undo-up": (
        "sqlite",
        ("CREATE TABLE t (a int);\nCREATE INDEX i_u ON u (b);", "DROP TABLE t;", {}),
        ("CREATE TABLE t (a int);\nCREATE INDEX i_t ON t (a);", "DROP TABLE t;", {}),
    ),
    "sqlite-unsupported-alter": (
        "sqlite",
        ("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);", None, NOT_REVERSIBLE),
        ("ALTER TABLE t RENAME COLUMN a TO b;", "ALTER TABLE t RENAME COLUMN b TO a;", {}),
    ),
    "sqlite-table-rebuild": (
        "sqlite",
        ("CREATE TABLE t2 (a int NOT NULL);\nINSERT INTO t2 SELECT a FROM t;\nDROP TABLE t;\n"
         "ALTER TABLE t2 RENAME TO t;", None, NOT_REVERSIBLE),
        ("CREATE TABLE t2 (a int NOT NULL);\nINSERT INTO t2 SELECT a FROM t;", "DROP TABLE t2;",
         {}),
    ),
    "unparsable-statement": (
        "postgresql",
        ("CREATE TABLE t (a int CHECK (a > ));", "DROP TABLE t;", {}),
        ("CREATE TABLE t (a int);", "DROP TABLE t;", {}),
    ),
    "down-drop-without-if-exists": (
        "postgresql",
        ("CREATE INDEX CONCURRENTLY i ON t (a);", "DROP INDEX CONCURRENTLY i;",
         {"transactional": False}),
        ("CREATE INDEX CONCURRENTLY i ON t (a);", "DROP INDEX CONCURRENTLY IF EXISTS i;",
         {"transactional": False}),
    ),
    "alter-column-type": (
        "postgresql",
        ("ALTER TABLE t ALTER COLUMN a TYPE bigint;", "ALTER TABLE t ALTER COLUMN a TYPE int;",
         {}),
        ("ALTER TABLE t ALTER COLUMN a SET DEFAULT 0;", "ALTER TABLE t ALTER COLUMN a DROP "
         "DEFAULT;", {}),
    ),
    "set-not-null": (
        "postgresql",
        ("ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
         "ALTER TABLE t ALTER COLUMN a DROP NOT NULL;", {}),
        ("ALTER TABLE t ALTER COLUMN a DROP NOT NULL;",
         "ALTER TABLE t ALTER COLUMN a SET NOT NULL;", {}),
    ),
    "delete-without-where": (
        "sqlite",
        ("DELETE FROM t;", None, NOT_REVERSIBLE),
        ("DELETE FROM t WHERE a IS NULL;", None, NOT_REVERSIBLE),
    ),
}


def test_every_builtin_rule_has_cases() -> None:
    assert {r.id for r in BUILTIN_RULES} == set(RULE_CASES)
    assert len(BUILTIN_RULES) >= 10


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_rule_fires(rule: str, mig_project: Project) -> None:
    dialect, (up, down, headers), _ = RULE_CASES[rule]
    found = lint_one(mig_project, dialect, up, down, headers)
    mine = [f for f in found if f.rule == rule]
    assert mine, f"{rule} did not fire: {found}"
    up_line = (mig_project.migrations_dir / "001_case.sql").read_text().splitlines().index(
        "-- UP") + 2
    assert all(f.line >= up_line for f in mine)
    assert all(f.fix and f.severity in Severity for f in mine)


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_rule_stays_quiet(rule: str, mig_project: Project) -> None:
    dialect, _, (up, down, headers) = RULE_CASES[rule]
    found = lint_one(mig_project, dialect, up, down, headers)
    assert [f for f in found if f.rule == rule] == []


@pytest.mark.parametrize(("statement", "dialect"), [
    ("VACUUM;", "sqlite"),
    ("PRAGMA foreign_keys = OFF;", "sqlite"),
    ("VACUUM (ANALYZE) t;", "postgresql"),
    ("REINDEX INDEX CONCURRENTLY i;", "postgresql"),
    ("DROP INDEX CONCURRENTLY i;", "postgresql"),
    ("CREATE DATABASE other;", "postgresql"),
    ("ALTER SYSTEM SET work_mem = '64MB';", "postgresql"),
])
def test_non_transactional_statements(statement: str, dialect: str, mig_project: Project) -> None:
    found = lint_one(mig_project, dialect, statement, None, NOT_REVERSIBLE)
    assert [f.rule for f in found] == ["non-transactional-statement"], found


def test_alter_type_add_value_depends_on_the_postgres_version(mig_project: Project) -> None:
    up = "ALTER TYPE mood ADD VALUE 'meh';"
    old = lint_one(mig_project, "postgresql", up, None, NOT_REVERSIBLE, postgres_version=11)
    assert [f.rule for f in old] == ["non-transactional-statement"]
    assert "PostgreSQL 11" in old[0].message
    assert lint_one(mig_project, "postgresql", up, None, NOT_REVERSIBLE, postgres_version=12) == []
    assert lint_one(mig_project, "postgresql", up, None, NOT_REVERSIBLE) == []


def test_add_column_not_null_is_fine_on_mysql(mig_project: Project) -> None:
    # MySQL fills the type's implicit default instead of failing.
    found = lint_one(mig_project, "mysql", "ALTER TABLE t ADD COLUMN c INT NOT NULL;",
                     "ALTER TABLE t DROP COLUMN c;")
    assert found == []


def test_reversible_migration_with_an_empty_down(tmp_path: Path) -> None:
    # The sqlfile parser refuses this file; a folder format of another tool may not.
    up = parse_section([_statement("CREATE TABLE t (a int)", 3)], "up", "sqlite")
    migration = Migration(id="001_x", version="001", name="x", path=tmp_path / "001_x.sql",
                          up_sql="CREATE TABLE t (a int);", down_sql="", checksum="",
                          checksum_version=1, reversible=True)
    rule = DownDoesNotUndoUp()
    found = list(rule.check(migration, ParsedMigration(up, []), LintContext("sqlite")))
    assert [f.message for f in found] == ["@reversible is true but DOWN is empty"]
    quiet = Migration(**{**migration.__dict__, "reversible": False})
    assert list(rule.check(quiet, ParsedMigration(up, []), LintContext("sqlite"))) == []


def _statement(sql: str, line: int) -> Any:
    from mig import Statement

    return Statement(sql, line)


# -- the realistic sets -----------------------------------------------------------------------


def realistic_project(tmp_path: Path, dialect: str) -> Project:
    project = Project(tmp_path / dialect)
    shutil.rmtree(project.migrations_dir)
    shutil.copytree(DATA / dialect, project.migrations_dir)
    configure(project, dialect, "[mig.options.lint]\npostgres_version = 11\n")
    return project


def expected(engine: MigrationEngine) -> dict[str, set[str]]:
    return {m.id: {r.strip() for r in m.metadata.get("expect-lint", "").split(",") if r.strip()}
            for m in engine.migrations()}


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_realistic_set_gives_exactly_the_expected_findings(dialect: str, tmp_path: Path) -> None:
    project = realistic_project(tmp_path, dialect)
    with project.engine() as engine:
        want = expected(engine)
        report = lint_project(engine)
    assert report.dialect == dialect
    got: dict[str, set[str]] = {m: set() for m in want}
    for f in report.findings:
        got[f.migration].add(f.rule)
    assert got == want
    assert not (tmp_path / dialect / "never-created.db").exists()


def test_realistic_sets_plant_every_rule(tmp_path: Path) -> None:
    planted: set[str] = set()
    for dialect in URLS:
        with realistic_project(tmp_path, dialect).engine() as engine:
            planted.update(*expected(engine).values())
    assert planted == {r.id for r in BUILTIN_RULES}


# -- silencing and options --------------------------------------------------------------------


def test_lint_ignore_silences_the_named_rules_only(mig_project: Project) -> None:
    up = "ALTER TABLE t RENAME COLUMN a TO b;\nCREATE INDEX i ON t (b);\nDELETE FROM t;"
    headers = {"reversible": False}
    loud = {f.rule for f in lint_one(mig_project, "postgresql", up, None, headers)}
    assert loud == {"rename", "index-without-concurrently", "delete-without-where"}
    headers["lint-ignore"] = "rename, index-without-concurrently  the table is always tiny"
    quiet = lint_one(mig_project, "postgresql", up, None, headers)
    assert [f.rule for f in quiet] == ["delete-without-where"]


@pytest.mark.parametrize(("value", "message"), [
    ("renam  typo in the id", "@lint-ignore names unknown rule 'renam'"),
    ("rename", "@lint-ignore gives no reason"),
    ("", "@lint-ignore names no rule"),
])
def test_a_bad_lint_ignore_is_reported(value: str, message: str, mig_project: Project) -> None:
    headers = {"reversible": False, "lint-ignore": value}
    found = lint_one(mig_project, "postgresql", "ALTER TABLE t RENAME TO u;", None, headers)
    meta = [f for f in found if f.rule == "lint-ignore"]
    assert [f.message for f in meta] == [message]
    assert meta[0].line == 3  # the header's own line
    assert meta[0].severity is Severity.WARNING


def test_config_disables_rules(mig_project: Project) -> None:
    configure(mig_project, "postgresql", '[mig.options.lint]\ndisable = ["rename"]\n')
    mig_project.write_migration("001_case", "ALTER TABLE t RENAME TO u;", None,
                                {"reversible": False})
    with mig_project.engine() as engine:
        assert lint_project(engine).findings == []


# -- rules from other plugins -----------------------------------------------------------------


class NoSelectStar(BaseRule):
    id = "no-select-star"
    severity = Severity.ERROR
    summary = "SELECT * in a view"
    fix = "name the columns"

    def check(self, migration: Migration, parsed: ParsedMigration,
              context: LintContext) -> list[Finding]:
        from sqlglot import exp

        return [self.finding(migration, s.line, "SELECT * in a view") for s in parsed.up
                if s.expression is not None and s.expression.find(exp.Star) is not None]


class ThirdParty:
    def __init__(self, rules: list[Any]) -> None:
        self.rules = rules

    @hookimpl
    def mig_register_lint_rules(self) -> list[Any]:
        return self.rules


def lint_with(project: Project, register_plugin: Any, rules: list[Any], up: str,
              headers: dict[str, Any] | None = None) -> list[Finding]:
    configure(project, "sqlite")
    project.write_migration("001_v", up, "DROP VIEW v;", headers or {})
    plugins = register_plugin(ThirdParty(rules), plugins=Plugins())
    with MigrationEngine(config=load_config(project.config_path), plugins=plugins) as engine:
        return lint_project(engine).findings


def test_a_plugin_adds_a_rule(mig_project: Project, register_plugin: Any) -> None:
    up = "CREATE VIEW v AS SELECT * FROM t;"
    found = lint_with(mig_project, register_plugin, [NoSelectStar], up)
    assert [(f.rule, f.line) for f in found] == [("no-select-star", 4)]
    silenced = lint_with(mig_project, register_plugin, [NoSelectStar()], up,
                         {"lint-ignore": "no-select-star  generated view"})
    assert silenced == []


class Broken(NoSelectStar):
    id = "broken"

    def check(self, migration: Migration, parsed: ParsedMigration,
              context: LintContext) -> list[Finding]:
        raise KeyError("oops")


@pytest.mark.parametrize(("rules", "message"), [
    ([Broken], r"lint rule 'broken' failed on 001_v: KeyError: 'oops'"),
    ([object()], "does not follow the rule protocol"),
    ([NoSelectStar, NoSelectStar], "two lint rules have the id 'no-select-star'"),
    ([BUILTIN_RULES[0]], "two lint rules have the id 'non-transactional-statement'"),
])
def test_a_bad_plugin_rule_is_refused(
    rules: list[Any], message: str, mig_project: Project, register_plugin: Any
) -> None:
    with pytest.raises(PluginError, match=message):
        lint_with(mig_project, register_plugin, rules, "CREATE VIEW v AS SELECT 1;")


# -- the command line (real subprocesses) -----------------------------------------------------


def test_cli_text_output_and_exit_code(tmp_path: Path) -> None:
    project = realistic_project(tmp_path, "postgresql")
    code, out, err = project.run("lint")
    assert code == 4, err
    lines = out.splitlines()
    assert len(lines) == 13
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    first = parsed[0]
    assert first is not None
    assert first["path"] == "migrations/003_index_orders_blocking.sql"
    assert (first["line"], first["severity"], first["rule"]) == (
        "5", "warning", "index-without-concurrently")
    assert "22 migration(s) checked for postgresql: 5 error(s), 6 warning(s), 2 info(s)" in err


def test_cli_json_matches_the_text(tmp_path: Path) -> None:
    project = realistic_project(tmp_path, "sqlite")
    code, out, err = project.run("lint", "--json")
    assert code == 4, err
    report = json.loads(out)
    assert report["dialect"] == "sqlite" and report["migrations"] == 10
    assert report["counts"] == {"error": 6, "warning": 2, "info": 0}
    assert {(f["migration"], f["rule"]) for f in report["findings"]} >= {
        ("004_vacuum_in_transaction", "non-transactional-statement")}
    assert all(set(f) == {"rule", "severity", "message", "fix", "migration", "path", "line"}
               for f in report["findings"])


def test_cli_sarif(tmp_path: Path) -> None:
    project = realistic_project(tmp_path, "mysql")
    code, out, err = project.run("lint", "--format", "sarif")
    assert code == 4, err
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in BUILTIN_RULES]
    assert all(r["shortDescription"]["text"] and r["help"]["text"] for r in rules)
    assert {r["defaultConfiguration"]["level"] for r in rules} == {"error", "warning", "note"}
    assert len(run["results"]) == 6
    for result in run["results"]:
        assert result["level"] in {"error", "warning", "note"}
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"].startswith("migrations/")
        assert physical["region"]["startLine"] >= 1
        assert result["message"]["text"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file://")
    # Only properties the SARIF 2.1.0 schema defines (its objects have additionalProperties
    # false), with the ones it requires.
    assert set(log) <= {"$schema", "version", "runs", "inlineExternalProperties", "properties"}
    assert set(run) <= {"tool", "originalUriBaseIds", "results", "invocations", "artifacts"}
    assert set(run["tool"]["driver"]) == {"name", "rules"}
    assert all(set(r) <= {"id", "name", "shortDescription", "fullDescription", "help",
                          "defaultConfiguration"} for r in rules)
    assert all(set(r) <= {"ruleId", "ruleIndex", "level", "message", "locations"}
               for r in run["results"])


def test_cli_on_the_bundled_example(example_project: Project) -> None:
    code, out, err = example_project.run("lint")
    assert (code, out) == (0, ""), err
    assert "5 migration(s) checked for sqlite, no findings" in err


def test_bundled_example_on_the_server_dialects(example_project: Project) -> None:
    with example_project.engine() as engine:
        assert lint_project(engine, dialect="postgresql").findings == []
        mysql = lint_project(engine, dialect="mysql")
    # 005 creates user_preferences and fills it in one migration: on MySQL the CREATE commits
    # before the INSERT. The example targets SQLite, where both share one transaction; a
    # warning, so the command still exits 0.
    assert [(f.migration, f.rule) for f in mysql.findings] == [
        ("005_add_user_preferences", "mysql-ddl-with-dml")]
    assert not mysql.has_errors


def test_cli_selects_migrations(tmp_path: Path) -> None:
    project = realistic_project(tmp_path, "postgresql")
    code, out, _ = project.run("lint", "12", "migrations/003_index_orders_blocking.sql")
    assert code == 0
    assert [LINE.match(line)["rule"] for line in out.splitlines()] == [  # type: ignore[index]
        "index-without-concurrently", "rename"]
    code, out, _ = project.run("lint", "005_index_concurrently")
    assert (code, out) == (0, "")


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "xml"], "--format must be one of text, json, sarif"),
    (["--json", "--format", "sarif"], "cannot be combined"),
    (["--dialect", "oracle"], "--dialect must be sqlite, postgresql or mysql"),
    (["999"], "no migration '999'"),
])
def test_cli_bad_usage_exits_2(args: list[str], message: str, example_project: Project) -> None:
    code, out, err = example_project.run("lint", *args)
    assert code == 2 and out == ""
    assert err.startswith("mig: error: ") and message in err


def test_cli_bad_config_and_files_exit_2(mig_project: Project) -> None:
    mig_project.write_config('[mig]\nmigrations_dir = "migrations"\n')
    mig_project.table_migration("001", "t")
    code, _, err = mig_project.run("lint")
    assert code == 2 and "pass --dialect" in err
    # --database (here through the API) gives the dialect as the config's URL would.
    with MigrationEngine.from_config(mig_project.config_path,
                                     database=URLS["mysql"]) as engine:
        assert lint_project(engine).dialect == "mysql"
    configure(mig_project, "sqlite")
    (mig_project.migrations_dir / "002_bad.sql").write_text("-- @name: bad\nSELECT 1;\n")
    code, _, err = mig_project.run("lint")
    assert code == 2 and "002_bad.sql" in err


@pytest.mark.parametrize(("options", "message"), [
    ('disable = ["no-such-rule"]', "disable names unknown rule 'no-such-rule'"),
    ('disable = "rename"', "disable must be a list of rule ids"),
    ('postgres_version = "eleven"', "postgres_version must be an integer"),
    ("postgres-version = 11", "has no option 'postgres-version'"),
])
def test_bad_lint_options(options: str, message: str, mig_project: Project) -> None:
    configure(mig_project, "postgresql", f"[mig.options.lint]\n{options}\n")
    mig_project.table_migration("001", "t")
    with mig_project.engine() as engine, pytest.raises(ConfigError, match=message) as caught:
        lint_project(engine)
    assert caught.value.exit_code == 2


def test_cli_help_lists_lint(mig_project: Project) -> None:
    assert re.search(r"^\s+lint\s+Check migration files", mig_project.ok("--help"), re.M)


def test_docs_list_every_rule() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "lint.md").read_text()
    for rule in BUILTIN_RULES:
        dialects = ", ".join(sorted(rule.dialects)) if rule.dialects else "all"
        assert f"| `{rule.id}` | {rule.severity.value} | {dialects} |" in docs, rule.id


# -- the error rules describe real failures (SQLite, in-process) ------------------------------


@pytest.mark.parametrize("rule", [
    "add-column-not-null-without-default", "sqlite-unsupported-alter",
    "non-transactional-statement",
])
def test_sqlite_errors_are_real_failures(rule: str, tmp_path: Path) -> None:
    """What the rule flags fails on a real SQLite table holding a row; its quiet form runs."""
    dialect, fires, quiet = RULE_CASES[rule]
    if dialect != "sqlite":
        fires, quiet = {
            "add-column-not-null-without-default": (
                ("ALTER TABLE t ADD COLUMN c INTEGER NOT NULL;", None, NOT_REVERSIBLE),
                ("ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT 0;", None,
                 NOT_REVERSIBLE)),
            "non-transactional-statement": (
                ("VACUUM;", None, NOT_REVERSIBLE),
                ("VACUUM;", None, {"reversible": False, "transactional": False})),
        }[rule]
    for (up, down, headers), flagged in ((fires, True), (quiet, False)):
        project = Project(tmp_path / f"{rule}-{flagged}")
        project.write_migration("001_t", "CREATE TABLE t (a INTEGER);\nINSERT INTO t VALUES (1);",
                                "DROP TABLE t;")
        project.write_migration("002_case", up, down, headers)
        with project.engine() as engine:
            report = lint_project(engine)
            executions = engine.up()
        assert (rule in {f.rule for f in report.findings}) is flagged
        assert [e.status.value for e in executions][-1] == ("FAILED" if flagged else "COMPLETED")
