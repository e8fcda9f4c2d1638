"""mig-backup-full: the ``full`` backup type (a consistent copy of the whole database)."""
