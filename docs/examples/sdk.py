"""Compress models with the Python SDK: python sdk.py chair.glb scene.gltf ...

Reads GLBCOMPRESS_API_KEY (an API key from the dashboard) and GLBCOMPRESS_URL (the server).
"""

import sys
from pathlib import Path

from glbcompress import Client
from glbcompress.client import ApiError, ModelError

with Client() as client:
    print("compressing as", client.account()["email"])

    # One model, waited for: a .glb, a .gltf (its files go with it) or a .zip of its folder.
    first = Path(sys.argv[1])
    result = client.compress(first, first.stem + ".min.glb", preset="balanced", position_bits=14)
    print(
        f"{first}: {result.input_bytes} -> {result.output_bytes} bytes ({result.compression_ratio:.1f}x smaller)"
    )

    # Many models: queue them all, then collect the results as they finish.
    jobs = [client.submit(path, preset="max") for path in sys.argv[1:]]
    for job in jobs:
        try:
            done = client.wait(job, timeout=600)
        except ModelError as exc:  # InvalidModel, UnsupportedModel, LimitExceeded
            print(f"{job.filename}: refused: {exc}")
            continue
        except ApiError as exc:  # anything else the server said no to
            print(f"{job.filename}: {exc.kind}: {exc} (request {exc.request_id})")
            continue
        out = client.result(done, Path(done.filename).stem + ".max.glb")
        print(f"{job.filename}: {done.compression_ratio:.1f}x smaller -> {out.path}")
