"""Registration of the built-in feature spaces (one line each; modules load lazily)."""
from __future__ import annotations
