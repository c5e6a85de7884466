"""Compress one model with the Python SDK (pip install glbcompress). It waits for the job when the
server answers 202, and retries 429/503 answers as their Retry-After says."""

from glbcompress import Client
from glbcompress.client import ApiError

client = Client()  # the key from GLBCOMPRESS_API_KEY, the server from GLBCOMPRESS_URL
try:
    result = client.compress("model.glb", "model-compressed.glb", preset="balanced", position_bits=14)
except ApiError as exc:  # one class per problem type: InvalidModel, InvalidOptions, RateLimited, ...
    raise SystemExit(f"{exc.kind}: {exc} (request {exc.request_id})") from None
print(result.input_bytes, "->", result.output_bytes, "bytes", f"({result.compression_ratio:.1f}x smaller)")
