"""Migration folders written the way golang-migrate, dbmate, goose, sql-migrate, Flyway,
yoyo, Prisma, Liquibase, Diesel and node-pg-migrate write them, and their history tables
created the way each tool creates them (the DDL of each tool's SQLite, PostgreSQL and MySQL
drivers), for tests/test_formats.py and the cross-dialect suite.

Every folder holds the same three portable migrations (users table; an index and a row whose
string holds a semicolon, with no final ``;``; a posts table) so one test can switch each tool
to mig: the "old tool" ran the first two, ``mig up`` must run only the third.
"""

from __future__ import annotations

from pathlib import Path

USERS = "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n"
INDEX = ("CREATE INDEX users_name ON users (name);\n"
         "INSERT INTO users (id, name) VALUES (1, 'semi;colon')\n")
POSTS = "CREATE TABLE posts (id INTEGER PRIMARY KEY, title VARCHAR(200));\n"


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():  # a name may hold a subfolder (Prisma's)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(text.encode("utf-8"))
    return folder


# tool -> (files, ids in order, the mig versions of those ids)
FOLDERS: dict[str, tuple[dict[str, str], list[str]]] = {
    "golang-migrate": ({
        "000001_create_users.up.sql": USERS,
        "000001_create_users.down.sql": "DROP TABLE users;\n",
        "000002_add_index.up.sql": INDEX,
        # no down file for version 2
        "000003_create_posts.up.sql": POSTS,
        "000003_create_posts.down.sql": "DROP TABLE posts;\n",
    }, ["000001_create_users", "000002_add_index", "000003_create_posts"]),
    "dbmate": ({
        "20240101100000_create_users.sql":
            "-- migrate:up\n" + USERS + "\n-- migrate:down\nDROP TABLE users;\n",
        "20240101110000_add_index.sql":
            "-- migrate:up\n" + INDEX + "\n-- migrate:down\n-- nothing to undo\n",
        "20240102090000_create_posts.sql":
            "-- migrate:up\n" + POSTS + "\n-- migrate:down\nDROP TABLE posts;\n",
    }, ["20240101100000_create_users", "20240101110000_add_index",
        "20240102090000_create_posts"]),
    "goose": ({
        "00001_create_users.sql":
            "-- +goose Up\n" + USERS + "\n-- +goose Down\nDROP TABLE users;\n",
        # the newer lower-case spelling
        "00002_add_index.sql":
            "-- +goose up\n" + INDEX.rstrip("\n") + ";\n",
        "00003_create_posts.sql":
            "-- +goose Up\n-- +goose StatementBegin\n" + POSTS
            + "-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE posts;\n",
    }, ["00001_create_users", "00002_add_index", "00003_create_posts"]),
    "sql-migrate": ({
        "1_create_users.sql":
            "-- +migrate Up\n" + USERS + "\n-- +migrate Down\nDROP TABLE users;\n",
        "2_add_index.sql":
            "-- +migrate Up notransaction\n" + INDEX.rstrip("\n") + ";\n",
        "3_create_posts.sql":
            "-- +migrate Up\n-- +migrate StatementBegin\n" + POSTS
            + "-- +migrate StatementEnd\n\n-- +migrate Down\nDROP TABLE posts;\n",
    }, ["1_create_users", "2_add_index", "3_create_posts"]),
    "flyway": ({
        "V1__create_users.sql": USERS,
        "U1__create_users.sql": "DROP TABLE users;\n",
        "V1.1__add_index.sql": INDEX,
        "V2__create_posts.sql": POSTS,
        "U2__create_posts.sql": "DROP TABLE posts;\n",
    }, ["V1__create_users", "V1.1__add_index", "V2__create_posts"]),
    "yoyo": ({
        "0001.create-users.sql": "-- create the users\n" + USERS,
        "0001.create-users.rollback.sql": "DROP TABLE users;\n",
        "0002.add-index.sql": "-- depends: 0001.create-users\n" + INDEX,
        "0003.create-posts.sql": "-- depends: 0002.add-index\n" + POSTS,
        "0003.create-posts.rollback.sql": "DROP TABLE posts;\n",
    }, ["0001.create-users", "0002.add-index", "0003.create-posts"]),
    "prisma": ({
        "migration_lock.toml": 'provider = "sqlite"\n',
        "20240101100000_create_users/migration.sql": "-- CreateTable\n" + USERS,
        "20240101110000_add_index/migration.sql": INDEX,
        "20240102090000_create_posts/migration.sql": POSTS,
    }, ["20240101100000_create_users", "20240101110000_add_index",
        "20240102090000_create_posts"]),
    "liquibase": ({
        "changelog-1.sql": "--liquibase formatted sql\n\n--changeset ann:1\n" + USERS
                           + "--rollback DROP TABLE users;\n\n--changeset ann:2\n" + INDEX,
        "changelog-2.sql": "--liquibase formatted sql\n--changeset bo:posts\n" + POSTS
                           + "--rollback DROP TABLE posts;\n",
    }, ["changelog-1.sql::1::ann", "changelog-1.sql::2::ann", "changelog-2.sql::posts::bo"]),
    "diesel": ({
        "2024-01-01-100000_create_users/up.sql": USERS,
        "2024-01-01-100000_create_users/down.sql": "DROP TABLE users;\n",
        "2024-01-01-110000_add_index/up.sql": INDEX,
        "2024-01-01-110000_add_index/down.sql": "-- This file should undo anything in `up.sql`\n",
        "2024-01-02-090000_create_posts/up.sql": POSTS,
        "2024-01-02-090000_create_posts/down.sql": "DROP TABLE posts;\n",
    }, ["2024-01-01-100000_create_users", "2024-01-01-110000_add_index",
        "2024-01-02-090000_create_posts"]),
    "node-pg-migrate": ({
        "1704103200000_create-users.sql":
            "-- Up Migration\n" + USERS + "\n-- Down Migration\nDROP TABLE users;\n",
        # no Down section: irreversible
        "1704106800000_add-index.sql": "-- up migration\n" + INDEX,
        "1704186000000_create-posts.sql":
            "-- Up Migration\n" + POSTS + "\n-- Down Migration\nDROP TABLE posts;\n",
    }, ["1704103200000_create-users", "1704106800000_add-index", "1704186000000_create-posts"]),
}


def history_ddl(tool: str, dialect: str) -> list[str]:
    """The statements ``tool`` runs to create its history table on ``dialect``."""
    if tool == "golang-migrate":
        if dialect == "sqlite":
            return ["CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool)",
                    "CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations"
                    " (version)"]
        return ["CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version bigint not null primary key, dirty boolean not null)"]
    if tool == "dbmate":
        return ["create table if not exists schema_migrations"
                " (version varchar(128) primary key)"]
    if tool == "goose":
        if dialect == "sqlite":
            return ["CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL,"
                    " tstamp TIMESTAMP DEFAULT (datetime('now')))"]
        if dialect == "postgres":
            return ["CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT"
                    " AS IDENTITY, version_id bigint NOT NULL, is_applied boolean NOT NULL,"
                    " tstamp timestamp NOT NULL DEFAULT now())"]
        return ["CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL,"
                " is_applied boolean NOT NULL, tstamp timestamp NULL default now(),"
                " PRIMARY KEY(id))"]
    if tool == "flyway":
        if dialect == "sqlite":
            return ['CREATE TABLE "flyway_schema_history" ("installed_rank" INT NOT NULL'
                    ' PRIMARY KEY, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL,'
                    ' "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL,'
                    ' "checksum" INT, "installed_by" VARCHAR(100) NOT NULL, "installed_on" TEXT'
                    " NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),"
                    ' "execution_time" INT NOT NULL, "success" BOOLEAN NOT NULL)',
                    'CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_schema_history"'
                    ' ("success")']
        if dialect == "postgres":
            return ['CREATE TABLE "flyway_schema_history" ("installed_rank" INT NOT NULL,'
                    ' "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL, "type"'
                    ' VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER,'
                    ' "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL'
                    ' DEFAULT now(), "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT'
                    ' NULL)',
                    'ALTER TABLE "flyway_schema_history" ADD CONSTRAINT'
                    ' "flyway_schema_history_pk" PRIMARY KEY ("installed_rank")',
                    'CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_schema_history"'
                    ' ("success")']
        return ["CREATE TABLE `flyway_schema_history` (`installed_rank` INT NOT NULL, `version`"
                " VARCHAR(50), `description` VARCHAR(200) NOT NULL, `type` VARCHAR(20) NOT NULL,"
                " `script` VARCHAR(1000) NOT NULL, `checksum` INT, `installed_by` VARCHAR(100)"
                " NOT NULL, `installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,"
                " `execution_time` INT NOT NULL, `success` BOOL NOT NULL, CONSTRAINT"
                " `flyway_schema_history_pk` PRIMARY KEY (`installed_rank`)) ENGINE=InnoDB",
                "CREATE INDEX `flyway_schema_history_s_idx` ON `flyway_schema_history`"
                " (`success`)"]
    if tool == "sql-migrate":  # gorp's table: the file name and when it was applied
        return ["CREATE TABLE gorp_migrations (id VARCHAR(255) NOT NULL PRIMARY KEY,"
                " applied_at TIMESTAMP NULL)"]
    if tool == "yoyo":
        return ["CREATE TABLE _yoyo_migration (migration_hash VARCHAR(64), migration_id"
                " VARCHAR(255), applied_at_utc TIMESTAMP, PRIMARY KEY (migration_hash))",
                "CREATE TABLE _yoyo_log (id VARCHAR(36), migration_hash VARCHAR(64),"
                " migration_id VARCHAR(255), operation VARCHAR(10), username VARCHAR(255),"
                " hostname VARCHAR(255), comment VARCHAR(255), created_at_utc TIMESTAMP,"
                " PRIMARY KEY (id))",
                "CREATE TABLE _yoyo_version (version INT NOT NULL PRIMARY KEY,"
                " installed_at_utc TIMESTAMP)"]
    if tool == "prisma":
        stamp = {"sqlite": "DATETIME", "postgres": "TIMESTAMPTZ", "mysql": "DATETIME(3)"}[dialect]
        now = {"sqlite": "current_timestamp", "postgres": "now()",
               "mysql": "CURRENT_TIMESTAMP(3)"}[dialect]
        return [f"CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL,"
                f" checksum VARCHAR(64) NOT NULL, finished_at {stamp}, migration_name"
                f" VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at {stamp}, started_at {stamp}"
                f" NOT NULL DEFAULT {now}, applied_steps_count INTEGER NOT NULL DEFAULT 0)"]
    if tool == "liquibase":
        name = "databasechangelog" if dialect == "postgres" else "DATABASECHANGELOG"
        stamp = "DATETIME" if dialect == "mysql" else "TIMESTAMP"
        return [f"CREATE TABLE {name} (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL,"
                f" FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED {stamp} NOT NULL,"
                " ORDEREXECUTED INT NOT NULL, EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35),"
                " DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255), TAG VARCHAR(255),"
                " LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS VARCHAR(255),"
                " DEPLOYMENT_ID VARCHAR(10))",
                f"CREATE TABLE {name}LOCK (ID INT NOT NULL, LOCKED BOOLEAN NOT NULL,"
                f" LOCKGRANTED {stamp}, LOCKEDBY VARCHAR(255),"
                f" CONSTRAINT PK_{name}LOCK PRIMARY KEY (ID))"]
    if tool == "diesel":
        return ["CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50)"
                " PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"]
    if tool == "node-pg-migrate":  # PostgreSQL's tool; the same table elsewhere for the reader
        key = {"sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
               "postgres": "id SERIAL PRIMARY KEY",
               "mysql": "id INT AUTO_INCREMENT PRIMARY KEY"}[dialect]
        return [f"CREATE TABLE pgmigrations ({key}, name varchar(255) NOT NULL,"
                " run_on timestamp NOT NULL)"]
    raise ValueError(tool)


def history_rows(tool: str, dialect: str, folder: Path, ids: list[str],
                 *, dirty: bool = False) -> list[str]:
    """The statements ``tool`` runs to record that it applied ``ids`` (in order)."""
    true, false = ("1", "0") if dialect == "sqlite" else ("true", "false")
    if tool == "golang-migrate":
        version = int(ids[-1].split("_", 1)[0])
        return ["DELETE FROM schema_migrations",
                f"INSERT INTO schema_migrations (version, dirty) VALUES ({version},"
                f" {true if dirty else false})"]
    if tool == "dbmate":
        return [f"insert into schema_migrations (version) values ('{i.split('_', 1)[0]}')"
                for i in ids]
    if tool == "goose":
        rows = [f"INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, {true})"]
        return rows + [f"INSERT INTO goose_db_version (version_id, is_applied)"
                       f" VALUES ({int(i.split('_', 1)[0])}, {true})" for i in ids]
    if tool == "flyway":
        from mig_formats.flyway import checksum

        out = []
        for rank, i in enumerate(ids, start=1):
            version, description = i[1:].split("__", 1)
            text = (folder / f"{i}.sql").read_text(encoding="utf-8")
            ok = false if dirty and rank == len(ids) else true
            out.append(
                "INSERT INTO flyway_schema_history (installed_rank, version, description,"
                " type, script, checksum, installed_by, execution_time, success) VALUES"
                f" ({rank}, '{version}', '{description.replace('_', ' ')}', 'SQL', '{i}.sql',"
                f" {checksum(text)}, 'flyway', 3, {ok})"
            )
        return out
    if tool == "sql-migrate":
        return [f"INSERT INTO gorp_migrations (id, applied_at) VALUES ('{i}.sql',"
                " '2024-01-01 10:00:00')" for i in ids]
    if tool == "yoyo":
        from mig_formats.yoyo import migration_hash

        out = []
        for n, i in enumerate(ids):
            out.append("INSERT INTO _yoyo_migration (migration_hash, migration_id,"
                       f" applied_at_utc) VALUES ('{migration_hash(i)}', '{i}',"
                       " '2024-01-01 10:00:00')")
            out.append("INSERT INTO _yoyo_log (id, migration_hash, migration_id, operation,"
                       " username, hostname, created_at_utc) VALUES"
                       f" ('00000000-0000-0000-0000-00000000000{n}', '{migration_hash(i)}',"
                       f" '{i}', 'apply', 'me', 'host', '2024-01-01 10:00:00')")
        return out
    if tool == "prisma":
        import hashlib

        out = []
        for n, i in enumerate(ids):
            script = (folder / i / "migration.sql").read_bytes()
            failed = dirty and n == len(ids) - 1
            finished = "NULL" if failed else f"'2024-01-01 10:00:0{n}'"
            out.append("INSERT INTO _prisma_migrations (id, checksum, finished_at,"
                       " migration_name, logs, rolled_back_at, started_at, applied_steps_count)"
                       f" VALUES ('00000000-0000-4000-8000-00000000000{n}',"
                       f" '{hashlib.sha256(script).hexdigest()}', {finished}, '{i}', NULL, NULL,"
                       f" '2024-01-01 10:00:0{n}', {0 if failed else 1})")
        return out
    if tool == "liquibase":
        name = "databasechangelog" if dialect == "postgres" else "DATABASECHANGELOG"
        # dirty: a run that died holding the lock
        holder = "'ci-runner (10.0.0.7)'" if dirty else "NULL"
        out = [f"INSERT INTO {name}LOCK (ID, LOCKED, LOCKGRANTED, LOCKEDBY) VALUES (1,"
               f" {true if dirty else false}, NULL, {holder})"]
        for n, i in enumerate(ids, start=1):
            file, changeset, author = i.split("::")
            out.append(f"INSERT INTO {name} (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED,"
                       " EXECTYPE, MD5SUM, LIQUIBASE, DEPLOYMENT_ID) VALUES"
                       f" ('{changeset}', '{author}', 'db/changelog/{file}',"
                       f" '2024-01-01 10:00:0{n}', {n}, 'EXECUTED', '9:0123456789abcdef', '4.25.0',"
                       " '0000000001')")
        return out
    if tool == "diesel":
        return [f"INSERT INTO __diesel_schema_migrations (version) VALUES"
                f" ('{i.split('_', 1)[0].replace('-', '')}')" for i in ids]
    if tool == "node-pg-migrate":
        return [f"INSERT INTO pgmigrations (name, run_on) VALUES ('{i}', '2024-01-01 10:00:0{n}')"
                for n, i in enumerate(ids)]
    raise ValueError(tool)
