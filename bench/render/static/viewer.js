// Renders a glTF/GLB from fixed viewpoints and returns PNG data URLs.
//
// window.renderModel({url, size, views, frame, background, timeoutMs}) resolves to
//   {ok: true, frame: {min, max}, images: [dataURL, ...]} or {ok: false, error}.
// `frame` is the bounding box to aim the cameras at; when absent it is computed from this model
// (the original), so the compressed copy is then rendered with exactly the original's cameras.
import * as THREE from "three";
import { RoomEnvironment } from "three/addons/environments/RoomEnvironment.js";
import { MeshoptDecoder } from "three/addons/libs/meshopt_decoder.module.js";
import { DRACOLoader } from "three/addons/loaders/DRACOLoader.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { KTX2Loader } from "three/addons/loaders/KTX2Loader.js";

const FOV_DEG = 35;
const MARGIN = 1.04; // a little air around the box

const canvas = document.getElementById("view");
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(1);
renderer.toneMapping = THREE.NeutralToneMapping;
renderer.outputColorSpace = THREE.SRGBColorSpace;

// A fixed, neutral image-based light: the same room for every model and every tool.
const environment = new THREE.PMREMGenerator(renderer).fromScene(new RoomEnvironment(), 0.04).texture;

const draco = new DRACOLoader().setDecoderPath("/three/examples/jsm/libs/draco/gltf/");
const ktx2 = new KTX2Loader().setTranscoderPath("/three/examples/jsm/libs/basis/").detectSupport(renderer);
const loader = new GLTFLoader().setDRACOLoader(draco).setKTX2Loader(ktx2).setMeshoptDecoder(MeshoptDecoder);

/** Pose the scene as at time 0 of its first animation (document order), or as stored if none. */
function poseAtStart(gltf) {
  if (gltf.animations.length > 0) {
    const mixer = new THREE.AnimationMixer(gltf.scene);
    mixer.clipAction(gltf.animations[0]).play();
    mixer.setTime(0);
  }
  gltf.scene.updateMatrixWorld(true);
  // Bounding volumes differ between a model and its quantized copy; never let culling decide.
  gltf.scene.traverse((o) => { o.frustumCulled = false; });
}

function boundingBox(object) {
  const box = new THREE.Box3().setFromObject(object, true);
  if (box.isEmpty()) throw new Error("the scene has nothing to draw");
  return { min: box.min.toArray(), max: box.max.toArray() };
}

/** A camera looking at the box's centre from (azimuth, elevation), just far enough that all
 * eight corners of the box are in view. */
function camera(frame, [azimuthDeg, elevationDeg]) {
  const box = new THREE.Box3(new THREE.Vector3().fromArray(frame.min), new THREE.Vector3().fromArray(frame.max));
  const center = box.getCenter(new THREE.Vector3());
  const radius = Math.max(box.getSize(new THREE.Vector3()).length() / 2, 1e-6);
  const az = THREE.MathUtils.degToRad(azimuthDeg);
  const el = THREE.MathUtils.degToRad(elevationDeg);
  const back = new THREE.Vector3(Math.sin(az) * Math.cos(el), Math.sin(el), Math.cos(az) * Math.cos(el));
  const right = new THREE.Vector3(0, 1, 0).cross(back).normalize();
  const up = back.clone().cross(right);
  const tan = Math.tan(THREE.MathUtils.degToRad(FOV_DEG / 2)) / MARGIN;
  let distance = radius * 0.01;
  for (let i = 0; i < 8; i++) {
    const corner = new THREE.Vector3(i & 1 ? box.max.x : box.min.x, i & 2 ? box.max.y : box.min.y, i & 4 ? box.max.z : box.min.z).sub(center);
    const toward = corner.dot(back);
    distance = Math.max(distance, toward + Math.abs(corner.dot(right)) / tan, toward + Math.abs(corner.dot(up)) / tan);
  }
  const near = Math.max(distance - radius * 1.1, distance * 0.001);
  const cam = new THREE.PerspectiveCamera(FOV_DEG, 1, near, distance + radius * 1.1);
  cam.position.copy(center).addScaledVector(back, distance);
  cam.up.copy(up);
  cam.lookAt(center);
  return cam;
}

function dispose(root) {
  root.traverse((o) => {
    if (o.geometry) o.geometry.dispose();
    for (const m of [].concat(o.material || [])) {
      for (const value of Object.values(m)) if (value && value.isTexture) value.dispose();
      m.dispose();
    }
  });
}

async function render({ url, size, views, frame, background }) {
  const gltf = await loader.loadAsync(url);
  try {
    poseAtStart(gltf);
    const aim = frame || boundingBox(gltf.scene);
    const scene = new THREE.Scene();
    scene.background = new THREE.Color().setRGB(...background.map((c) => c / 255), THREE.SRGBColorSpace);
    scene.environment = environment;
    scene.add(gltf.scene);
    renderer.setSize(size, size, false);
    const images = views.map((view) => {
      renderer.render(scene, camera(aim, view));
      return canvas.toDataURL("image/png");
    });
    return { ok: true, frame: aim, images };
  } finally {
    dispose(gltf.scene);
    renderer.renderLists.dispose();
  }
}

window.renderModel = async (args) => {
  const timeout = new Promise((resolve) =>
    setTimeout(() => resolve({ ok: false, error: `render timed out after ${args.timeoutMs} ms` }), args.timeoutMs),
  );
  const work = render(args).catch((err) => ({ ok: false, error: String((err && err.message) || err) }));
  return Promise.race([work, timeout]);
};
window.viewerReady = true;
