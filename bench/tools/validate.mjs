// Validate glTF/GLB files with the Khronos glTF-Validator; prints one JSON line per file:
// {file, errors, warnings, error_codes: {CODE: count}, warning_codes: {...}}, or {file, fatal}.
// Usage: node validate.mjs FILE...
import { readFile } from "node:fs/promises";
import path from "node:path";
import validator from "gltf-validator";

for (const file of process.argv.slice(2)) {
  const dir = path.dirname(file);
  try {
    const report = await validator.validateBytes(new Uint8Array(await readFile(file)), {
      maxIssues: 100000,
      externalResourceFunction: (uri) =>
        readFile(path.resolve(dir, decodeURIComponent(uri))).then((b) => new Uint8Array(b)),
    });
    const error_codes = {};
    const warning_codes = {};
    for (const m of report.issues.messages) {
      const codes = m.severity === 0 ? error_codes : m.severity === 1 ? warning_codes : null;
      if (codes) codes[m.code] = (codes[m.code] || 0) + 1;
    }
    const { numErrors: errors, numWarnings: warnings } = report.issues;
    process.stdout.write(JSON.stringify({ file, errors, warnings, error_codes, warning_codes }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ file, fatal: String((err && err.message) || err) }) + "\n");
  }
}
