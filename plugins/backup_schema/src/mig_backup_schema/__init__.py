"""mig-backup-schema: the ``schema`` backup type (the schema without user rows)."""
