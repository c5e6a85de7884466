// Compress one model with fetch (Node 18+; in a browser, send a File from an <input> instead).
import { readFile, writeFile } from "node:fs/promises";

const url = process.env.GLBCOMPRESS_URL ?? "http://127.0.0.1:8000";
const headers = { Authorization: `Bearer ${process.env.GLBCOMPRESS_API_KEY}` };

const form = new FormData();
form.append("file", new Blob([await readFile("model.glb")]), "model.glb");
form.append("preset", "balanced");
form.append("position_bits", "12");

let response = await fetch(`${url}/v1/compress`, { method: "POST", headers, body: form });
if (response.status === 202) {
  // Too big or too slow to wait for: poll the job, then download its result.
  let job = await response.json();
  while (job.status === "queued" || job.status === "running") {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    job = await (await fetch(`${url}/v1/jobs/${job.id}`, { headers })).json();
  }
  response = await fetch(`${url}/v1/jobs/${job.id}/result`, { headers });
}
if (!response.ok) {
  const problem = await response.json(); // application/problem+json
  throw new Error(`${problem.type}: ${problem.detail}`);
}
await writeFile("model-compressed.glb", Buffer.from(await response.arrayBuffer()));
console.log(`${response.headers.get("X-Original-Size")} -> ${response.headers.get("X-Compressed-Size")} bytes`);
