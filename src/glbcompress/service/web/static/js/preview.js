// The before/after 3D preview: the original (from the files the user dropped, never uploaded
// again) and the compressed GLB (from the server) side by side, drawn with one shared camera so
// orbit and zoom move both, with a wireframe toggle and animation playback.
//
// three.js and its decoders (Draco, Meshopt, KTX2/Basis) are served by us from /vendor/three.
import * as THREE from "/vendor/three/build/three.module.js";
import { OrbitControls } from "/vendor/three/examples/jsm/controls/OrbitControls.js";
import { RoomEnvironment } from "/vendor/three/examples/jsm/environments/RoomEnvironment.js";
import { MeshoptDecoder } from "/vendor/three/examples/jsm/libs/meshopt_decoder.module.js";
import { DRACOLoader } from "/vendor/three/examples/jsm/loaders/DRACOLoader.js";
import { GLTFLoader } from "/vendor/three/examples/jsm/loaders/GLTFLoader.js";
import { KTX2Loader } from "/vendor/three/examples/jsm/loaders/KTX2Loader.js";

const LIBS = "/vendor/three/examples/jsm/libs";
const LOCAL = `${location.origin}/__local__/`;
const MAX_PREVIEW_ZIP = 512 * 1024 * 1024;
const LOAD_TIMEOUT_MS = 120_000;

/** The promise, or a rejection once `ms` have passed (a decoder worker that dies never answers). */
function withTimeout(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("it took too long to load")), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

let draco = null;
function dracoLoader() {
  draco = draco || new DRACOLoader().setDecoderPath(`${LIBS}/draco/gltf/`);
  return draco;
}

/** URL modifier serving a set of local files (path -> Blob) under LOCAL, for .gltf with files. */
function localFiles(files) {
  const urls = new Map();
  for (const [path, blob] of Object.entries(files)) urls.set(path, URL.createObjectURL(blob));
  const resolve = (url) => {
    if (!url.startsWith(LOCAL)) return url;
    let path = url.slice(LOCAL.length).split(/[?#]/)[0];
    try {
      path = decodeURIComponent(path);
    } catch {
      // keep it as it is
    }
    const parts = [];
    for (const p of path.split("/")) {
      if (p === "..") parts.pop();
      else if (p && p !== ".") parts.push(p);
    }
    return urls.get(parts.join("/")) || url;
  };
  return { resolve, revoke: () => urls.forEach((u) => URL.revokeObjectURL(u)) };
}

async function unzipModel(file) {
  if (file.size > MAX_PREVIEW_ZIP) throw new Error("the original is too large to preview here");
  const { unzipSync } = await import(`${LIBS}/fflate.module.js`);
  const entries = unzipSync(new Uint8Array(await file.arrayBuffer()));
  const files = {};
  let main = null;
  for (const [name, data] of Object.entries(entries)) {
    if (name.endsWith("/") || name.startsWith("__MACOSX/")) continue;
    files[name] = new Blob([data]);
    if (/\.(gltf|glb)$/i.test(name)) main = main || name;
  }
  if (!main) throw new Error("the zip holds no .gltf or .glb");
  return { files, main };
}

/** Where to load the original from: {url, files?}. */
async function originalSource(model) {
  if (model.kind === "set") return { files: model.files, main: model.main };
  if (/\.zip$/i.test(model.name)) return unzipModel(model.file);
  return { files: { [model.name]: model.file }, main: model.name };
}

function background(element) {
  const value = getComputedStyle(element).getPropertyValue("--preview-bg").trim();
  return new THREE.Color(value || "#dde3ea");
}

/** Whether WebGL runs on the CPU (SwiftShader, llvmpipe): no GPU to spare for extras. */
function softwareRenderer(renderer) {
  const gl = renderer.getContext();
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const name = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  return /swiftshader|llvmpipe|software/i.test(String(name));
}

class Pane {
  constructor(canvas, camera, color) {
    this.canvas = canvas;
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.renderer.outputColorSpace = THREE.SRGBColorSpace;
    this.renderer.toneMapping = THREE.NeutralToneMapping;
    this.scene = new THREE.Scene();
    this.scene.background = color;
    // Plain lights always; image-based light (a neutral room) where the GPU makes it cheap. On a
    // software renderer, building it takes many seconds and freezes the page.
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x667080, 1.6));
    const key = new THREE.DirectionalLight(0xffffff, 1.8);
    key.position.set(3, 5, 4);
    const fill = new THREE.DirectionalLight(0xffffff, 0.6);
    fill.position.set(-4, 2, -3);
    this.scene.add(key, fill);
    this.environment = null;
    if (!softwareRenderer(this.renderer)) {
      const pmrem = new THREE.PMREMGenerator(this.renderer);
      this.environment = pmrem.fromScene(new RoomEnvironment(), 0.04).texture;
      pmrem.dispose();
      this.scene.environment = this.environment;
      this.scene.environmentIntensity = 0.6;
    }
    this.camera = camera;
    this.ktx2 = new KTX2Loader().setTranscoderPath(`${LIBS}/basis/`).detectSupport(this.renderer);
    this.manager = new THREE.LoadingManager();
    this.loader = new GLTFLoader(this.manager)
      .setDRACOLoader(dracoLoader())
      .setKTX2Loader(this.ktx2)
      .setMeshoptDecoder(MeshoptDecoder);
    this.mixer = null;
    this.actions = [];
    this.model = null;
  }

  async load(url, resolve) {
    if (resolve) this.manager.setURLModifier(resolve);
    const gltf = await this.loader.loadAsync(url);
    this.model = gltf.scene;
    // Bounding volumes of a quantized copy differ from the original's: never let culling decide.
    this.model.traverse((o) => {
      o.frustumCulled = false;
    });
    this.scene.add(this.model);
    if (gltf.animations.length) {
      this.mixer = new THREE.AnimationMixer(this.model);
      this.actions = gltf.animations.map((clip) => this.mixer.clipAction(clip));
    }
    return gltf;
  }

  resize() {
    const width = this.canvas.clientWidth || 300;
    const height = this.canvas.clientHeight || 225;
    const size = this.renderer.getSize(new THREE.Vector2());
    if (size.x !== width || size.y !== height) this.renderer.setSize(width, height, false);
  }

  render() {
    this.resize();
    this.renderer.render(this.scene, this.camera);
  }

  wireframe(on) {
    this.model?.traverse((o) => {
      for (const m of [].concat(o.material || [])) m.wireframe = on;
    });
  }

  play(index) {
    this.actions.forEach((a, i) => {
      if (i === index) a.reset().play();
      else a.stop();
    });
  }

  dispose() {
    this.model?.traverse((o) => {
      o.geometry?.dispose();
      for (const m of [].concat(o.material || [])) {
        for (const value of Object.values(m)) if (value && value.isTexture) value.dispose();
        m.dispose();
      }
    });
    this.environment?.dispose();
    this.ktx2.dispose();
    this.renderer.dispose();
    this.renderer.forceContextLoss();
  }
}

export class Comparison {
  /** container: the card's .preview element; before: the dropped model; afterUrl: the GLB. */
  constructor(container, { before, afterUrl, figures }) {
    this.container = container;
    this.message = container.querySelector(".preview-message");
    this.camera = new THREE.PerspectiveCamera(35, 4 / 3, 0.01, 1000);
    const color = background(container);
    // Fresh canvases: one whose context an earlier preview released cannot get a new one.
    const canvases = [".view-before", ".view-after"].map((selector) => {
      const old = container.querySelector(selector);
      const canvas = old.cloneNode(false);
      delete canvas.dataset.state;
      old.replaceWith(canvas);
      return canvas;
    });
    this.panes = canvases.map((canvas) => new Pane(canvas, this.camera, color));
    container.querySelector(".pane-before .pane-figures").textContent = figures.before;
    container.querySelector(".pane-after .pane-figures").textContent = figures.after;
    this.controls = this.panes.map((pane) => {
      const controls = new OrbitControls(this.camera, pane.canvas);
      controls.addEventListener("change", () => this.render());
      return controls;
    });
    this.controls[1].target = this.controls[0].target; // one target: the views move together
    this.clock = new THREE.Clock();
    this.playing = false;
    this.frame = 0;
    this.cleanup = [];
    this.resizeObserver = new ResizeObserver(() => this.render());
    for (const canvas of canvases) this.resizeObserver.observe(canvas);
    this.bindTools();
    this.ready = this.load(before, afterUrl);
  }

  async load(before, afterUrl) {
    const [paneBefore, paneAfter] = this.panes;
    const results = await Promise.allSettled([
      withTimeout(
        (async () => {
          const source = await originalSource(before);
          const local = localFiles(source.files);
          this.cleanup.push(local.revoke);
          return paneBefore.load(LOCAL + source.main.split("/").map(encodeURIComponent).join("/"), local.resolve);
        })(),
        LOAD_TIMEOUT_MS,
      ),
      withTimeout(paneAfter.load(afterUrl), LOAD_TIMEOUT_MS),
    ]);
    if (this.disposed) return;
    const problems = [];
    results.forEach((result, i) => {
      const pane = this.panes[i];
      pane.canvas.dataset.state = result.status === "fulfilled" ? "ready" : "error";
      if (result.status === "rejected") {
        const reason = result.reason && result.reason.message ? result.reason.message : String(result.reason);
        problems.push(`${i === 0 ? "The original" : "The result"} could not be shown: ${reason}`);
      }
    });
    this.frameModel();
    this.setupAnimation();
    this.render();
    this.message.textContent = problems.join(" ");
    if (problems.length === 2) throw new Error(problems.join(" "));
  }

  /** Aim the shared camera at the original (or, failing that, the result) from a 3/4 view. */
  frameModel() {
    const pane = this.panes.find((p) => p.model) || null;
    const box = pane ? new THREE.Box3().setFromObject(pane.model, true) : new THREE.Box3();
    if (box.isEmpty()) box.set(new THREE.Vector3(-1, -1, -1), new THREE.Vector3(1, 1, 1));
    const center = box.getCenter(new THREE.Vector3());
    const radius = Math.max(box.getSize(new THREE.Vector3()).length() / 2, 1e-4);
    const distance = radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2)) * 1.05;
    const direction = new THREE.Vector3(1, 0.6, 1.4).normalize();
    this.camera.position.copy(center).addScaledVector(direction, distance);
    this.camera.near = distance / 100;
    this.camera.far = distance * 100;
    this.camera.updateProjectionMatrix();
    this.home = { position: this.camera.position.clone(), target: center.clone() };
    this.controls[0].target.copy(center);
    for (const c of this.controls) c.update();
  }

  setupAnimation() {
    const names = this.panes[0].actions.length ? this.panes[0].actions : this.panes[1].actions;
    const tools = this.container.querySelector(".animation-tools");
    if (!names.length) {
      tools.hidden = true;
      return;
    }
    tools.hidden = false;
    const select = tools.querySelector(".clip");
    select.replaceChildren(
      ...names.map((action, i) => {
        const option = document.createElement("option");
        option.value = String(i);
        option.textContent = action.getClip().name || `Animation ${i + 1}`;
        return option;
      }),
    );
    this.playClip(0);
  }

  playClip(index) {
    for (const pane of this.panes) pane.play(index);
    this.setPlaying(true);
  }

  setPlaying(on) {
    this.playing = on;
    this.container.querySelector(".play").textContent = on ? "Pause" : "Play";
    if (on) {
      this.clock.getDelta();
      this.loop();
    }
  }

  loop() {
    if (!this.playing || this.disposed) return;
    const delta = this.clock.getDelta();
    for (const pane of this.panes) pane.mixer?.update(delta);
    this.draw();
    this.frame = requestAnimationFrame(() => this.loop());
  }

  bindTools() {
    const on = (selector, event, handler) => {
      const el = this.container.querySelector(selector);
      el.addEventListener(event, handler);
      this.cleanup.push(() => el.removeEventListener(event, handler));
    };
    on(".wireframe", "change", (e) => {
      for (const pane of this.panes) pane.wireframe(e.target.checked);
      this.render();
    });
    on(".clip", "change", (e) => this.playClip(Number(e.target.value)));
    on(".play", "click", () => this.setPlaying(!this.playing));
    on(".reset-view", "click", () => {
      if (!this.home) return;
      this.camera.position.copy(this.home.position);
      this.controls[0].target.copy(this.home.target);
      for (const c of this.controls) c.update();
      this.render();
    });
  }

  draw() {
    const canvas = this.panes[0].canvas;
    this.camera.aspect = (canvas.clientWidth || 4) / (canvas.clientHeight || 3);
    this.camera.updateProjectionMatrix();
    for (const pane of this.panes) pane.render();
  }

  /** Draw once (when playing, the animation loop draws anyway). */
  render() {
    if (this.disposed || this.playing) return;
    this.draw();
  }

  dispose() {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    this.resizeObserver.disconnect();
    for (const c of this.controls) c.dispose();
    for (const pane of this.panes) pane.dispose();
    for (const fn of this.cleanup) fn();
    this.container.querySelector(".wireframe").checked = false;
  }
}
