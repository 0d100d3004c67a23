"""ePrescription / eDispensation: not built yet (issue 6). Deliberately empty: no worker runs it."""
