"""mig-formats: other tools' migration folders (golang-migrate, dbmate, goose, sql-migrate,
Flyway, yoyo) read as they are, converted to mig's files, and their history tables adopted."""

from .registry import FORMATS, detect, load_folder

__all__ = ["FORMATS", "detect", "load_folder"]
