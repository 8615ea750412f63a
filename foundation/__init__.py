"""The project's lowest layer: atomic files, content hashing, installed-package files and the
registry helper. It imports nothing from `generators`, `extractors` or `counterfactual`, so all
three build on it without an import cycle (see ARCHITECTURE.md)."""
