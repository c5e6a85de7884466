"""One module per transform. Each exports NAME, its options dataclass (defined in
engine/pass_options.py), DEFAULTS and a function ``name(doc, options) -> dict`` that edits the
Document in place and returns what it changed (counts that go into the report). Passes keep the
model valid on their own.

A run imports only the passes it runs (pipeline.optimize), but most runs run most of them: keep
their top-level imports light (numpy, meshopt) and import anything heavier (DracoPy, Pillow, scipy,
a thread or process pool) inside the functions that use it. tests/test_startup.py checks."""
