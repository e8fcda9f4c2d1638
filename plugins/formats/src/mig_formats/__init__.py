"""mig-formats: other tools' migration folders (golang-migrate, dbmate, goose, sql-migrate,
Flyway, yoyo, Prisma, Sqitch, Liquibase formatted SQL, plain SQL as Supabase and Atlas write
it) read as they are, converted to mig's files, and their history tables adopted."""

from .registry import FORMATS, detect, load_folder

__all__ = ["FORMATS", "detect", "load_folder"]
