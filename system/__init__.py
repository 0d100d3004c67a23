"""The whole system: the ``passerelle`` command (``system.cli``) and ``passerelle up`` (``system.supervisor``).

The one package that knows every service and the benchmarks; the core (``passerelle``) and the
services never import it (docs/adr/0140-layers.md).
"""
