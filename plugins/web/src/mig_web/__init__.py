"""mig-web: ``mig serve``, a server-rendered web interface over the engine's API."""
