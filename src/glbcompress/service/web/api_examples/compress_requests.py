"""Compress one model with requests; wait for the job if the server answers 202."""

import os
import sys
import time

import requests

url = os.environ.get("GLBCOMPRESS_URL", "http://127.0.0.1:8000")
session = requests.Session()
session.headers["Authorization"] = f"Bearer {os.environ['GLBCOMPRESS_API_KEY']}"

with open("model.glb", "rb") as model:
    response = session.post(f"{url}/v1/compress", params={"preset": "balanced"}, data=model)
if response.status_code == 202:  # too big or too slow to wait for: poll the job
    job = response.json()
    while job["status"] in ("queued", "running"):
        time.sleep(1)
        job = session.get(f"{url}/v1/jobs/{job['id']}").json()
    response = session.get(f"{url}/v1/jobs/{job['id']}/result")
if not response.ok:  # every error is problem+json: a stable type and a detail for people
    problem = response.json()
    sys.exit(f"{problem['type']}: {problem['detail']}")
with open("model-compressed.glb", "wb") as out:
    out.write(response.content)
print(response.headers["X-Original-Size"], "->", response.headers["X-Compressed-Size"], "bytes")
