"""mig-backup-incremental: incremental backup chains (changed pages only) and their restore."""
