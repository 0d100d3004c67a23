"""Passerelle's services. Each has the same inner layout:

* ``settings.py`` – what it reads from configuration,
* ``handlers.py`` – its business rules as plain functions (no I/O, testable without a broker),
* ``app.py`` – the wiring of those rules to topics,
* ``__main__.py`` – ``python -m services.<name>`` (what ``passerelle worker <name>`` runs).

Services never import each other: they share ``schemas/`` and the core package ``passerelle``.
"""
