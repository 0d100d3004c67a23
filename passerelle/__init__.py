"""Passerelle's shared core: settings, Avro serde, event envelope, logging, broker plumbing.

Services (``services/*``) import this package and ``schemas/``; they never import each other.
"""

from pathlib import Path

#: Root of the repository (schemas/ and data/ live there).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
