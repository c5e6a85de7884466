"""Typed errors the engine raises. Each carries a message written for the user who sent the model;
the API maps them to problem+json 4xx responses and the CLI to exit code 2."""


class EngineError(Exception):
    """Base of every error caused by the input or options rather than by a bug."""

    kind = "engine-error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidModel(EngineError):
    """The input is not a readable glTF 2.0 model (corrupt, truncated, inconsistent)."""

    kind = "invalid-model"


class UnsupportedModel(EngineError):
    """The input is valid glTF but uses something the engine cannot process (e.g. a required
    extension it does not know)."""

    kind = "unsupported-model"


class LimitExceeded(EngineError):
    """The input is larger than the configured limits allow (bytes, counts, pixels)."""

    kind = "limit-exceeded"


class InvalidOptions(EngineError):
    """The options given to the engine are not valid."""

    kind = "invalid-options"
