"""Runtime plumbing for feature spaces: execution backends, resizing, weight lookup, feature cache.

Kept free of imports: `extractors` installs the torchvision shim from here before anything else.
"""
