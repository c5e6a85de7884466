// Submit a job as a raw body, poll it, and read the account's usage.
import { readFile } from "node:fs/promises";

const url = process.env.GLBCOMPRESS_URL ?? "http://127.0.0.1:8000";
const headers = { Authorization: `Bearer ${process.env.GLBCOMPRESS_API_KEY}` };

const submitted = await fetch(`${url}/v1/jobs?filename=model.glb&preset=lossless`, {
  method: "POST",
  headers: { ...headers, "Content-Type": "model/gltf-binary" },
  body: await readFile("model.glb"),
});
let job = await submitted.json();
while (job.status === "queued" || job.status === "running") {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  job = await (await fetch(`${url}${job.links.self}`, { headers })).json();
}
console.log(job.id, job.status, job.output_bytes);

const usage = await (await fetch(`${url}/v1/usage?days=7`, { headers })).json();
console.log("models compressed:", usage.totals.models, "bytes saved:", usage.totals.bytes_saved);
