"""Many models with the Python SDK: queue them all, then collect each result as it finishes."""

from pathlib import Path

from glbcompress import Client
from glbcompress.client import ApiError, ModelError

with Client() as client:
    jobs = [client.submit(path, preset="max") for path in ("model.glb", "scene/scene.gltf")]
    for job in jobs:
        try:
            done = client.wait(job, timeout=600, progress=lambda p: print(f"  {p.stage}: {p.done:.0%}"))
        except ModelError as exc:  # InvalidModel, UnsupportedModel, LimitExceeded
            print(f"{job.filename}: refused: {exc}")
            continue
        except ApiError as exc:  # anything else the server said no to
            print(f"{job.filename}: {exc.kind}: {exc} (request {exc.request_id})")
            continue
        out = client.result(done, Path(done.filename).stem + "-compressed.glb")
        print(f"{done.filename}: {done.compression_ratio:.1f}x smaller -> {out.path}")

    for job in client.jobs(status="succeeded"):  # every page, newest first
        print(job.id, job.filename, job.output_bytes)
