// Turning what the user dropped or picked into models to upload, one per card:
//   a .glb or .zip is a model as it is;
//   a .gltf is a model with the files it refers to (found among the dropped files by their path
//   relative to the .gltf, or by name), packed with them into one zip (stored, not deflated);
//   anything else is reported in plain words.
// Also reading dropped folders (webkitGetAsEntry) into files with their relative paths.

const MODEL = /\.(glb|gltf|zip)$/i;

export function extension(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

/** "a/b/../c.png" -> "a/c.png"; null when it climbs above the root. */
export function normalize(path) {
  const out = [];
  for (const part of path.replace(/\\/g, "/").split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (!out.length) return null;
      out.pop();
    } else out.push(part);
  }
  return out.join("/");
}

function dirname(path) {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i + 1);
}

function decode(uri) {
  try {
    return decodeURIComponent(uri);
  } catch {
    return uri;
  }
}

/** The relative URIs a .gltf's buffers and images refer to (not data: URIs). */
function referencedUris(json) {
  const uris = [];
  for (const list of [json.buffers, json.images]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const uri = item && typeof item.uri === "string" ? item.uri : "";
      if (uri && !/^[a-z][a-z0-9+.-]*:/i.test(uri)) uris.push(uri.split(/[?#]/)[0]);
    }
  }
  return uris;
}

/**
 * entries: [{file, path}] (path relative to what was dropped; the file name when picked).
 * Returns {models: [{name, label, kind, file?, files?, size}], problems: [text]}.
 * kind: "file" (upload as is) or "set" (a .gltf with files: {path: File}, packed at upload).
 */
export async function groupModels(entries) {
  const models = [];
  const problems = [];
  const byPath = new Map();
  const byName = new Map();
  for (const e of entries) {
    const path = normalize(e.path || e.file.name) || e.file.name;
    byPath.set(path, e);
    const name = path.split("/").pop();
    byName.set(name, byName.has(name) ? null : e); // null: ambiguous
  }
  const used = new Set();
  for (const [path, e] of byPath) {
    const ext = extension(e.file.name);
    if (ext === ".glb" || ext === ".zip") {
      models.push({ name: e.file.name, label: e.file.name, kind: "file", file: e.file, size: e.file.size });
      continue;
    }
    if (ext !== ".gltf") continue;
    let uris = [];
    try {
      uris = referencedUris(JSON.parse(await e.file.text()));
    } catch {
      // Not JSON: upload it anyway, and the server says what is wrong with it.
    }
    const files = {};
    const base = dirname(path);
    files[path] = e.file;
    for (const uri of uris) {
      const wanted = normalize(base + decode(uri));
      const found = (wanted !== null && byPath.get(wanted)) || byName.get(decode(uri).split("/").pop());
      if (!found) continue;
      const foundPath = normalize(found.path || found.file.name) || found.file.name;
      // In the zip, each file goes where the .gltf expects it (also when it was found by name).
      files[wanted ?? foundPath] = found.file;
      used.add(foundPath);
    }
    const extra = Object.keys(files).length - 1;
    if (extra === 0) {
      models.push({ name: e.file.name, label: e.file.name, kind: "file", file: e.file, size: e.file.size });
    } else {
      const size = Object.values(files).reduce((n, f) => n + f.size, 0);
      const label = `${e.file.name} (with ${extra} file${extra === 1 ? "" : "s"})`;
      models.push({ name: e.file.name, label, kind: "set", files, main: path, size });
    }
  }
  for (const [path, e] of byPath) {
    if (MODEL.test(e.file.name) || used.has(path)) continue;
    const ext = extension(e.file.name);
    if (models.some((m) => m.kind === "set") && [".bin", ".png", ".jpg", ".jpeg", ".webp", ".avif", ".ktx2"].includes(ext)) {
      continue; // a resource no .gltf refers to: harmless, leave it out
    }
    const kind = ext ? `a ${ext} file` : "a file without an extension";
    problems.push(
      `“${e.file.name}” is ${kind}, not a model. Upload .glb, .gltf (with its files, or a .zip of its folder) or .zip files.`,
    );
  }
  return { models, problems };
}

/** The body to upload for a model: the file itself, or a zip of the .gltf and its files. */
export async function uploadBody(model) {
  if (model.kind === "file") return model.file;
  const { zipSync } = await import("/vendor/three/examples/jsm/libs/fflate.module.js");
  const entries = {};
  for (const [path, file] of Object.entries(model.files)) {
    entries[path] = [new Uint8Array(await file.arrayBuffer()), { level: 0 }];
  }
  return new Blob([zipSync(entries)], { type: "application/zip" });
}

function readAll(reader) {
  return new Promise((resolve, reject) => {
    const all = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (!batch.length) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

async function walk(entry, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\/+/, "") });
  } else if (entry.isDirectory) {
    for (const child of await readAll(entry.createReader())) await walk(child, out);
  }
}

/** [{file, path}] from a drop event, folders included. */
export async function droppedFiles(dataTransfer) {
  const out = [];
  const items = [...(dataTransfer.items || [])].filter((item) => item.kind === "file");
  const entries = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (entries.length && entries.every(Boolean)) {
    for (const entry of entries) await walk(entry, out);
    return out;
  }
  for (const file of dataTransfer.files || []) out.push({ file, path: file.name });
  return out;
}

/** [{file, path}] from a file input (a folder picker gives webkitRelativePath). */
export function pickedFiles(input) {
  return [...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}
