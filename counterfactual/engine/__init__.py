"""The feature engine the sweep and rank runs share (neither imports the other; both build on
this package, which imports neither).

Each image set is generated once, kept in memory and fed to every feature space; features are
cached per (set, space) in RUN_DIR/features. Modules, one job each:

- components: where an engine gets its parts (generator, extractors, scorers ...; tests swap in
  stand-ins)
- timer: wall time per category and its one-line summary
- extract: images -> features of one space, in the extractor's own batch size
- features: `FeatureEngine`, the shared base of the sweep and rank executors
- scoring: how a set's attribute scores are taken (verification, explained FD)
- runner: the run under the run directory's lock, the executor choice (local vs Ray), the
  shared finish (timing history, completed manifest) and the completion log
- ray: the Ray pool and what the Ray sweep and rank executors share
- shards: shard jobs, the worker that runs them, the driver's shard store

Nothing is imported here: `counterfactual.engine.timer` loads no torch.
"""
