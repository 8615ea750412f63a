"""Shared test helpers: stand-ins, fakes and fixture paths (tests/ is on pytest's sys.path)."""
