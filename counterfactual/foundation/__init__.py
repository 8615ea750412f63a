"""The project's lowest layer: atomic files, content hashing, installed-package files and the
registry helper. It imports nothing else from the project (`generators`, `extractors` or the
rest of `counterfactual`), and `counterfactual/__init__.py` imports nothing, so `generators`
and `extractors` use it without an import cycle. It lives inside `counterfactual/` because the
top level of the tree is fixed (see ARCHITECTURE.md)."""
