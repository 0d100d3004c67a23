"""Consent verification: decides whether a request may leave France, and says why."""
