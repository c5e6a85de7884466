"""A .gltf with the Python SDK: the files its buffers and images refer to are sent with it."""

from glbcompress import Client

with Client() as client:
    result = client.compress("scene/scene.gltf", "scene-compressed.glb", preset="max", position_bits=12)
    print(result.path, result.output_bytes, "bytes")
