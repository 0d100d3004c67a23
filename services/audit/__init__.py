"""The audit service: one audit record for every step of every request, on the audit topic
(``app.py``, rules in ``handlers.py``), and an access notification for each access to a patient's
data. ``store/`` writes the records once into a hash-chained database; ``cli.py`` exports, verifies
and replays (docs/audit.md).
"""
