"""Bounds on what one model may make the engine allocate, so hostile input cannot exhaust memory."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_json_bytes: int = 256 * 1024 * 1024
    max_json_depth: int = 64
    max_decoded_bytes: int = 8 * 1024**3
    """Sum of decoded accessor, buffer and image bytes one model may occupy."""
    max_count: int = 1 << 30
    """Largest element count an accessor may declare."""
    max_data_uri_bytes: int = 1024**3
    max_image_pixels: int = 1 << 28


DEFAULT_LIMITS = Limits()
