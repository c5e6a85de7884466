"""Benchmarks: glbcompress beside gltfpack and glTF-Transform (size, speed, validity, fidelity)."""
