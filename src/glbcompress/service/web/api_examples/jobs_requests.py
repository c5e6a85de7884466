"""Submit a job with options, poll it, download the result; list recent jobs."""

import os
import time

import requests

url = os.environ.get("GLBCOMPRESS_URL", "http://127.0.0.1:8000")
session = requests.Session()
session.headers["Authorization"] = f"Bearer {os.environ['GLBCOMPRESS_API_KEY']}"

with open("model.glb", "rb") as model:
    response = session.post(
        f"{url}/v1/jobs",
        files={"file": ("model.glb", model, "model/gltf-binary")},
        data={"preset": "max", "options": '{"texture_max_size": 1024}'},
    )
response.raise_for_status()
job = response.json()
while job["status"] in ("queued", "running"):
    time.sleep(1)
    job = session.get(f"{url}{job['links']['self']}").json()
print(job["id"], job["status"], job["compression_ratio"])
if job["status"] == "succeeded":
    result = session.get(f"{url}{job['links']['result']}")
    with open("model-compressed.glb", "wb") as out:
        out.write(result.content)

page = session.get(f"{url}/v1/jobs", params={"limit": 10}).json()
for item in page["items"]:
    print(item["created_at"], item["filename"], item["status"])
