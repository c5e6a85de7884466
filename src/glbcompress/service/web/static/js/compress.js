// The Compress page: options, dropping/picking models, one card per model with its upload and
// compression progress, the result (sizes, bytes by category, scene figures, fidelity, textures,
// warnings, download) and a before/after 3D preview (preview.js, loaded when first needed).
import { droppedFiles, groupModels, pickedFiles, uploadBody } from "./models.js";
import { formatSize } from "./format.js";

const root = document.getElementById("compressor");
const csrf = root.dataset.csrf;
const maxBytes = Number(root.dataset.maxBytes);
const maxSize = root.dataset.maxSize;
const cardList = document.getElementById("cards");
const template = document.getElementById("card-template");
const dropErrors = document.getElementById("drop-errors");
const dropzone = document.getElementById("dropzone");
const fileInput = document.getElementById("file-input");
const folderInput = document.getElementById("folder-input");

const POLL_MS = 500;
const PARALLEL_UPLOADS = 2;
const CATEGORIES = [
  ["geometry", "Geometry"],
  ["textures", "Textures"],
  ["animation", "Animation"],
  ["other", "Other"],
];

// --- options ------------------------------------------------------------------------------------

const controls = [...root.querySelectorAll("[data-option]")];
const presetsOf = new Map(controls.map((c) => [c, JSON.parse(c.dataset.presets)]));
const switches = new Map(controls.filter((c) => c.closest("legend")).map((c) => [c.dataset.option, c]));

function presetName() {
  const checked = root.querySelector('input[name="preset"]:checked');
  return checked ? checked.value : "balanced";
}

function readControl(c) {
  if (c.dataset.kind === "bool") return c.checked;
  if (c.dataset.kind === "int") return c.value === "" ? null : Number.parseInt(c.value, 10);
  if (c.dataset.kind === "float") return c.value === "" ? null : Number.parseFloat(c.value);
  return c.value;
}

function setControl(c, value) {
  if (c.dataset.kind === "bool") c.checked = Boolean(value);
  else c.value = value === null || value === undefined ? "" : String(value);
}

function groupSwitch(c) {
  const group = c.closest("fieldset.pass");
  return group ? switches.get(group.dataset.pass) : null;
}

function isSwitch(c) {
  return switches.get(c.dataset.option) === c;
}

function refreshGroups() {
  for (const c of controls) {
    if (isSwitch(c)) continue;
    const on = groupSwitch(c);
    c.disabled = Boolean(on && !on.checked);
  }
  const n = Object.keys(changedOptions()).length;
  document.getElementById("changed-count").textContent = n ? `${n} option${n === 1 ? "" : "s"} changed from the preset.` : "";
}

function applyPreset() {
  const preset = presetName();
  for (const c of controls) setControl(c, presetsOf.get(c)[preset]);
  refreshGroups();
}

/** The options that differ from the preset's (switches first, then fields of passes that are on). */
function changedOptions() {
  const preset = presetName();
  const out = {};
  for (const c of controls.filter(isSwitch)) {
    if (c.checked !== Boolean(presetsOf.get(c)[preset])) out[c.dataset.option] = c.checked;
  }
  for (const c of controls) {
    if (isSwitch(c) || c.disabled) continue;
    const value = readControl(c);
    const base = presetsOf.get(c)[preset];
    if (value === null || Number.isNaN(value)) continue;
    if (value !== base) out[c.dataset.option] = value;
  }
  return out;
}

/** The first invalid Advanced option, as a sentence, or "". */
function invalidOption() {
  for (const c of controls) {
    if (c.disabled || c.checkValidity()) continue;
    const label = root.querySelector(`label[for="${c.id}"]`);
    const name = label ? label.textContent.trim() : c.dataset.option;
    const range = c.min !== "" && c.max !== "" ? ` It must be between ${c.min} and ${c.max}.` : "";
    return `The Advanced option “${name}” has a value that is not allowed (${c.value || "empty"}).${range}`;
  }
  return "";
}

for (const c of controls) {
  c.addEventListener("change", () => {
    if (isSwitch(c) && c.checked) {
      for (const name of (c.dataset.turnsOff || "").split(" ").filter(Boolean)) {
        const other = switches.get(name);
        if (other) other.checked = false;
      }
    }
    refreshGroups();
  });
}
for (const radio of root.querySelectorAll('input[name="preset"]')) radio.addEventListener("change", applyPreset);
document.getElementById("reset-advanced").addEventListener("click", applyPreset);
refreshGroups();

// --- cards ----------------------------------------------------------------------------------------

function part(card, selector) {
  return card.querySelector(selector);
}

function newCard(label) {
  const card = template.content.firstElementChild.cloneNode(true);
  part(card, ".card-title").textContent = label;
  cardList.prepend(card);
  return card;
}

function setStatus(card, text, state) {
  const badge = part(card, ".status-badge");
  badge.textContent = text;
  badge.className = `status-badge status-${state}`;
  card.dataset.state = state;
}

function setProgress(card, fraction, text) {
  const bar = part(card, "progress");
  part(card, ".card-progress").hidden = false;
  if (fraction === null) bar.removeAttribute("value");
  else bar.value = Math.max(0, Math.min(1, fraction));
  part(card, ".progress-label").textContent = text;
  bar.setAttribute("aria-label", text);
}

function fail(card, message) {
  setStatus(card, "Failed", "failed");
  part(card, ".card-progress").hidden = true;
  const error = part(card, ".card-error");
  error.textContent = message;
  error.hidden = false;
}

function showDropProblems(problems) {
  dropErrors.replaceChildren(
    ...problems.map((text) => {
      const p = document.createElement("p");
      p.className = "form-error";
      p.textContent = text;
      return p;
    }),
  );
}

// --- upload and progress --------------------------------------------------------------------------

let activeUploads = 0;
const waiting = [];

function whenUploadSlotFree() {
  if (activeUploads < PARALLEL_UPLOADS) {
    activeUploads += 1;
    return Promise.resolve();
  }
  return new Promise((resolve) => waiting.push(resolve));
}

function releaseUploadSlot() {
  const next = waiting.shift();
  if (next) next();
  else activeUploads -= 1;
}

function problemText(xhr) {
  try {
    const body = JSON.parse(xhr.responseText);
    if (body && body.detail) return body.detail;
  } catch {
    // not JSON: fall through
  }
  if (xhr.status === 413) return `The file is larger than the ${maxSize} limit.`;
  return `The upload was refused (HTTP ${xhr.status}).`;
}

function upload(card, body, name, preset, options) {
  return new Promise((resolve, reject) => {
    const query = new URLSearchParams({ name, preset });
    if (Object.keys(options).length) query.set("options", JSON.stringify(options));
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/jobs?${query}`);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const done = event.loaded / event.total;
      setProgress(card, done, `Uploading… ${Math.round(done * 100)}% of ${formatSize(event.total)}`);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201) resolve(JSON.parse(xhr.responseText));
      else reject(new Error(problemText(xhr)));
    });
    xhr.addEventListener("error", () =>
      reject(
        new Error(
          `The upload was interrupted. Files larger than ${maxSize} are refused; otherwise check your connection and try again.`,
        ),
      ),
    );
    xhr.send(body);
  });
}

async function fetchJob(id) {
  const response = await fetch(`/jobs/${encodeURIComponent(id)}`, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `Could not read the job's progress (HTTP ${response.status}).`);
  return body;
}

async function follow(card, job) {
  let failures = 0;
  for (;;) {
    if (job.finished) return job;
    const percent = Math.round((job.progress || 0) * 100);
    const label = job.status === "queued" ? "Queued: waiting for a free worker" : `${job.step_label}… ${percent}%`;
    setStatus(card, job.status === "queued" ? "Queued" : "Compressing", "running");
    setProgress(card, job.status === "queued" ? null : job.progress, label);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    try {
      job = await fetchJob(job.id);
      failures = 0;
    } catch (error) {
      failures += 1;
      if (failures >= 5) throw error;
    }
  }
}

async function compressModel(model, preset, options) {
  const card = newCard(model.label);
  card.model = model;
  if (model.size > maxBytes) {
    fail(card, `“${model.name}” is ${formatSize(model.size)}, more than the ${maxSize} a model may be.`);
    return;
  }
  setStatus(card, "Waiting", "running");
  setProgress(card, null, "Waiting to upload…");
  await whenUploadSlotFree();
  let job;
  try {
    setProgress(card, 0, model.kind === "set" ? "Packing the files…" : "Uploading…");
    const body = await uploadBody(model);
    if (body.size > maxBytes) throw new Error(`“${model.name}” with its files is ${formatSize(body.size)}, more than the ${maxSize} limit.`);
    job = await upload(card, body, model.name, preset, options);
  } catch (error) {
    fail(card, error.message);
    return;
  } finally {
    releaseUploadSlot();
  }
  card.dataset.job = job.id;
  try {
    job = await follow(card, job);
  } catch (error) {
    fail(card, error.message);
    return;
  }
  if (job.status === "succeeded") showResult(card, job);
  else fail(card, job.error || "The compression did not finish.");
}

async function start(entries) {
  const problem = invalidOption();
  if (problem) {
    showDropProblems([problem]);
    document.getElementById("advanced").open = true;
    return;
  }
  const { models, problems } = await groupModels(entries);
  if (!models.length && !problems.length) problems.push("Nothing to compress was found in what you dropped.");
  showDropProblems(problems);
  const preset = presetName();
  const options = changedOptions();
  await Promise.all(models.map((model) => compressModel(model, preset, options)));
}

// --- the result ------------------------------------------------------------------------------------

function cell(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

function bytesChart(container, before, after) {
  const largest = Math.max(1, ...CATEGORIES.flatMap(([key]) => [before[key] || 0, after[key] || 0]));
  const rows = [];
  const summary = [];
  for (const [key, label] of CATEGORIES) {
    const b = before[key] || 0;
    const a = after[key] || 0;
    if (!b && !a) continue;
    summary.push(`${label}: ${formatSize(b)} before, ${formatSize(a)} after`);
    const row = document.createElement("div");
    row.className = "chart-row";
    row.append(cell("span", label, "chart-label"));
    const bars = document.createElement("div");
    bars.className = "chart-bars";
    for (const [value, which] of [
      [b, "before"],
      [a, "after"],
    ]) {
      const line = document.createElement("div");
      line.className = "chart-line";
      const bar = document.createElement("span");
      bar.className = `chart-bar chart-${which}`;
      bar.style.width = `${(100 * value) / largest}%`;
      line.append(bar, cell("span", `${which === "before" ? "Before" : "After"} ${formatSize(value)}`, "chart-value"));
      bars.append(line);
    }
    row.append(bars);
    rows.push(row);
  }
  container.replaceChildren(...rows);
  container.setAttribute("aria-label", `Bytes by category. ${summary.join("; ")}.`);
}

function showResult(card, job) {
  const r = job.report || {};
  setStatus(card, "Done", "done");
  part(card, ".card-progress").hidden = true;
  part(card, ".card-result").hidden = false;
  part(card, ".size-before").textContent = r.input_size || job.input_size;
  part(card, ".size-after").textContent = r.output_size || job.output_size;
  const ratio = typeof r.ratio === "number" ? ` (${r.ratio.toFixed(3)}× the size)` : "";
  part(card, ".size-ratio").textContent = `${r.saved || job.saved}${ratio}`;
  const link = part(card, ".download");
  if (job.download_url) {
    link.href = job.download_url;
    link.setAttribute("download", "");
  } else link.hidden = true;
  bytesChart(part(card, ".bytes-chart"), r.bytes_before || {}, r.bytes_after || {});

  const counts = part(card, ".counts tbody");
  counts.replaceChildren(
    ...(r.counts || []).map((row) => {
      const tr = document.createElement("tr");
      tr.append(cell("th", row.label), cell("td", row.before.toLocaleString("en")), cell("td", row.after.toLocaleString("en")));
      tr.firstChild.scope = "row";
      return tr;
    }),
  );
  const fidelity = part(card, ".fidelity tbody");
  const rows = (r.fidelity || []).map((row) => {
    const tr = document.createElement("tr");
    tr.append(cell("th", row.label), cell("td", row.value));
    tr.firstChild.scope = "row";
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.append(cell("td", "No lossy step changed this model."));
    rows.push(tr);
  }
  fidelity.replaceChildren(...rows);
  const textures = r.textures || [];
  part(card, ".textures tbody").replaceChildren(
    ...textures.map((row) => {
      const tr = document.createElement("tr");
      tr.append(cell("th", row.image, "texture-image"), cell("td", row.class));
      tr.append(cell("td", row.before), cell("td", row.after, "texture-after"), cell("td", row.quality));
      tr.append(cell("td", row.ssim, "num"), cell("td", row.psnr, "num"));
      tr.firstChild.scope = "row";
      return tr;
    }),
  );
  part(card, ".textures-box").hidden = !textures.length;
  if ((r.warnings || []).length) {
    part(card, ".warnings").hidden = false;
    part(card, ".warnings ul").replaceChildren(...r.warnings.map((w) => cell("li", w)));
  }
  card.result = job;
  const toggle = part(card, ".preview-toggle");
  if (root.dataset.preview !== "on" || !toggle) return;
  toggle.addEventListener("click", () => (card.comparison ? closePreview(card) : openPreview(card)));
  if (!document.querySelector(".card[data-preview=open]")) openPreview(card);
}

// --- the 3D preview (one open at a time: each needs two WebGL contexts) ----------------------------

let previewModule = null;

function closePreview(card) {
  if (card.comparison) card.comparison.dispose();
  card.comparison = null;
  delete card.dataset.preview;
  part(card, ".preview").hidden = true;
  part(card, ".preview-toggle").textContent = "Show 3D preview";
}

async function openPreview(card) {
  for (const other of document.querySelectorAll(".card[data-preview=open]")) closePreview(other);
  card.dataset.preview = "open";
  part(card, ".preview").hidden = false;
  part(card, ".preview-toggle").textContent = "Hide 3D preview";
  const message = part(card, ".preview-message");
  message.textContent = "Loading the preview…";
  try {
    previewModule = previewModule || (await import("./preview.js"));
    const r = card.result.report || {};
    card.comparison = new previewModule.Comparison(part(card, ".preview"), {
      before: card.model,
      afterUrl: card.result.download_url,
      figures: {
        before: `${(r.triangles_before || 0).toLocaleString("en")} triangles · ${r.input_size || ""}`,
        after: `${(r.triangles_after || 0).toLocaleString("en")} triangles · ${r.output_size || ""}`,
      },
    });
    await card.comparison.ready;
  } catch (error) {
    message.textContent = `The preview could not be shown: ${error.message}`;
  }
}

// --- dropping and picking ---------------------------------------------------------------------------

dropzone.addEventListener("dragover", (event) => {
  event.preventDefault();
  dropzone.classList.add("dragging");
});
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("dragging"));
dropzone.addEventListener("drop", async (event) => {
  event.preventDefault();
  dropzone.classList.remove("dragging");
  start(await droppedFiles(event.dataTransfer));
});
dropzone.addEventListener("keydown", (event) => {
  if (event.target === dropzone && (event.key === "Enter" || event.key === " ")) {
    event.preventDefault();
    fileInput.click();
  }
});
for (const input of [fileInput, folderInput]) {
  input.addEventListener("change", () => {
    const entries = pickedFiles(input);
    input.value = "";
    if (entries.length) start(entries);
  });
}
// Dropping a file anywhere else must not make the browser leave the page to open it.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());
