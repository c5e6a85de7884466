"""Bounds on what one model may make the engine allocate, so hostile input cannot exhaust memory."""

from .errors import LimitExceeded
from .records import dataclass


@dataclass(frozen=True)
class Limits:
    max_json_bytes: int = 256 * 1024 * 1024
    max_json_depth: int = 64
    max_json_values: int = 16_000_000
    """Values (array elements and object members, counted by their commas) the JSON may hold:
    parsed, each takes tens of bytes, so this bounds parsing to about a gigabyte (the largest
    JSON in the corpus, 20,000 nodes, has about 28,000)."""
    max_json_objects: int = 4_000_000
    """JSON objects (nodes, accessors, ..., each a dictionary of hundreds of bytes once parsed)."""
    max_decoded_bytes: int = 8 * 1024**3
    """Sum of decoded accessor, buffer and image bytes one model may occupy."""
    max_expansion: float = 64.0
    """Decoded bytes may exceed expansion_floor_bytes only up to this many times the input's bytes:
    a small file whose accessors all alias one bufferView (or whose compressed streams claim huge
    counts) would otherwise make the engine allocate gigabytes before any absolute limit trips."""
    expansion_floor_bytes: int = 256 * 1024**2
    max_count: int = 1 << 30
    """Largest element count an accessor may declare."""
    max_data_uri_bytes: int = 1024**3
    max_image_pixels: int = 1 << 27
    """Pixels one image may declare (16384 x 8192), checked from its header before decoding; below
    Pillow's own decompression-bomb stop (2 x its MAX_IMAGE_PIXELS), so ours is the one that applies."""


DEFAULT_LIMITS = Limits()


class DecodeBudget:
    """Counts the bytes decoding a model allocates, against Limits.max_decoded_bytes and the
    expansion bound; take() is called before each allocation, so a refusal costs nothing."""

    def __init__(self, limits: Limits, input_bytes: int):
        self.limits = limits
        self.input_bytes = input_bytes
        self.used = 0

    def take(self, nbytes: int, what: str) -> None:
        self.used += max(0, nbytes)
        limits = self.limits
        if self.used > limits.max_decoded_bytes:
            raise LimitExceeded(
                f"{what}: decoding the model needs more than {limits.max_decoded_bytes:,} bytes of memory."
            )
        if self.used > limits.expansion_floor_bytes and self.used > limits.max_expansion * max(
            1, self.input_bytes
        ):
            raise LimitExceeded(
                f"{what}: the model's {self.input_bytes:,} bytes decode to more than {self.used:,} "
                f"(over {limits.max_expansion:g} times as many); it looks like a decompression bomb."
            )
