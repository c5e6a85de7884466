"""One module per transform. Each exports NAME, an options dataclass, DEFAULTS and a function
``name(doc, options) -> dict`` that edits the Document in place and returns what it changed
(counts that go into the report). Passes keep the model valid on their own.

engine.options imports every pass module for its options, so each run imports them all: keep their
top-level imports light (numpy, meshopt) and import anything heavier (DracoPy, Pillow, scipy, a
thread or process pool) inside the functions that use it. tests/test_startup.py checks."""
