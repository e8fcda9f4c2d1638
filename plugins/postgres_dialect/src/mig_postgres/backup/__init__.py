"""Backups of this server for the backup plugins (mig-backup-full, -schema, -data,
-incremental): one module per backup type, with ``create(ctx, job)`` and ``restore(ctx, job)``,
reached through :meth:`Dialect.backup_module` so the backup plugins never import this one."""
