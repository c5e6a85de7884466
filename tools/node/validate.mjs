// Validate glTF/GLB files with the Khronos glTF-Validator; prints one JSON report per line.
// Usage: node validate.mjs FILE...
import { readFile } from "node:fs/promises";
import path from "node:path";
import validator from "gltf-validator";

for (const file of process.argv.slice(2)) {
  const dir = path.dirname(file);
  try {
    const data = new Uint8Array(await readFile(file));
    const report = await validator.validateBytes(data, {
      maxIssues: 1000,
      externalResourceFunction: (uri) =>
        readFile(path.resolve(dir, decodeURIComponent(uri))).then((b) => new Uint8Array(b)),
    });
    const messages = report.issues.messages.map((m) => ({ code: m.code, severity: m.severity, pointer: m.pointer, message: m.message }));
    process.stdout.write(JSON.stringify({ file, errors: report.issues.numErrors, warnings: report.issues.numWarnings, messages }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ file, fatal: String(err && err.message ? err.message : err) }) + "\n");
  }
}
