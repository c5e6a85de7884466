"""One module per transform. Each exports NAME, an options dataclass, DEFAULTS and a function
``name(doc, options) -> dict`` that edits the Document in place and returns what it changed
(counts that go into the report). Passes keep the model valid on their own."""
