"""Runtime plumbing for feature spaces: execution backends, resizing, weight lookup, feature cache.

Kept free of imports: `extractors.base` (which every feature space and scorer builds on) installs
the torchvision shim from here before anything imports torchvision.
"""
