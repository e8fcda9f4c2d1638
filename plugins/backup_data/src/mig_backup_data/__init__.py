"""mig-backup-data: the ``data`` backup type (the rows of the user tables, no schema)."""
