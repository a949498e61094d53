"""Channel connectors, one package per provider, listed in :mod:`.registry`."""
