"""mig-metrics: Prometheus metrics of every ``mig up``, ``down`` and ``rollback``."""
