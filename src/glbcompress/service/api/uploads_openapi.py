"""How the upload endpoints' request bodies and binary answers appear in the OpenAPI schema. The
routes read the body themselves (streamed to storage, ``model_input.py``), so FastAPI cannot
describe it: these entries do, for client generators, the interactive docs and Schemathesis."""

from __future__ import annotations

from typing import Any

BINARY = {"type": "string", "format": "binary"}
MODEL_TYPES = ("application/octet-stream", "model/gltf-binary", "model/gltf+json", "application/zip")

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The model: the raw bytes of a .glb, .gltf or .zip (name it with the filename "
        "parameter), or multipart/form-data with the model as the 'file' part (several 'file' parts: a "
        ".gltf with its files) and optional fields preset, options, callback_url, filename and single "
        "options by name.",
        "content": {
            **{media: {"schema": BINARY} for media in MODEL_TYPES},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": BINARY,
                        "preset": {"type": "string", "enum": ["lossless", "balanced", "max"]},
                        "options": {"type": "string", "description": "A JSON object of option overrides."},
                        "callback_url": {"type": "string", "format": "uri"},
                        "filename": {"type": "string"},
                    },
                }
            },
        },
    }
}

RESULT_HEADERS: dict[str, Any] = {
    "X-Original-Size": {"description": "Bytes uploaded.", "schema": {"type": "integer"}},
    "X-Compressed-Size": {"description": "Bytes of the compressed GLB.", "schema": {"type": "integer"}},
    "X-Compression-Ratio": {
        "description": "Original over compressed size (4.2: 4.2 times smaller).",
        "schema": {"type": "string"},
    },
    "X-Job-ID": {"description": "The job the compression ran as.", "schema": {"type": "string"}},
    "X-Request-ID": {"description": "This request's id, for reports.", "schema": {"type": "string"}},
}

GLB_RESPONSE: dict[str, Any] = {
    "description": "The compressed model.",
    "content": {"model/gltf-binary": {"schema": BINARY}},
    "headers": RESULT_HEADERS,
}
