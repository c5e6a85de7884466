"""Render models in headless Chromium (software WebGL) with three.js.

A loopback HTTP server that this module starts serves the viewer page (static/), the `three`
package installed by bench/setup (with its Draco, Meshopt and Basis decoders) and the model
folders. Playwright drives Debian's Chromium; it never downloads a browser of its own.

    with Renderer() as r:
        original = r.render(Path("in.glb"))                # frames the cameras on this model
        output = r.render(Path("out.glb"), original.frame)  # the same cameras
"""

from __future__ import annotations

import base64
import io
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

import numpy as np
from PIL import Image

from ..paths import CHROMIUM, THREE

STATIC = Path(__file__).resolve().parent / "static"

# (azimuth, elevation) in degrees around the original's bounding sphere: four around, one from
# above, one from below. Off the axes so that flat faces are seen at an angle.
VIEWS: tuple[tuple[float, float], ...] = ((35, 15), (125, 15), (215, 15), (305, 15), (0, 70), (90, -45))

# A mid grey (sRGB): the metrics compare each view on the rectangle of pixels that differ from it.
BACKGROUND = (128, 128, 128)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def renderer_available() -> str | None:
    """None when rendering can run here, otherwise the reason it cannot (for skips and messages)."""
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}: run bench/setup (apt-get install chromium)"
    if not (THREE / "build" / "three.module.js").exists():
        return "three.js not installed: run bench/setup"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python package playwright missing: pip install -e '.[bench]' (bench/setup does this)"
    return None


@dataclass
class RenderResult:
    """The views of one model as RGB arrays (height, width, 3), or the reason it failed."""

    ok: bool
    images: list[np.ndarray] = field(default_factory=list)
    frame: dict[str, Any] | None = None
    error: str = ""
    seconds: float = 0.0


class _Handler(SimpleHTTPRequestHandler):
    """Serves /app/ (viewer), /three/ (the npm package) and /m/<token>/ (a published model folder)."""

    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".glb": "model/gltf-binary",
        ".gltf": "model/gltf+json",
        ".ktx2": "image/ktx2",
        ".webp": "image/webp",
    }

    def __init__(self, *args: Any, roots: dict[str, Path], **kwargs: Any) -> None:
        self.roots = roots
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        parts = unquote(urlsplit(path).path).lstrip("/").split("/")
        if parts[0] == "m" and len(parts) > 2:
            root, rest = self.roots.get(parts[1]), parts[2:]
        else:
            root, rest = self.roots.get(parts[0]), parts[1:]
        if root is None:
            return "/nonexistent"
        target = root.joinpath(*rest).resolve()
        return str(target) if target.is_relative_to(root) else "/nonexistent"

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server:
    """The loopback HTTP server; model folders are published under a short token each."""

    def __init__(self) -> None:
        self.roots: dict[str, Path] = {"app": STATIC.resolve(), "three": THREE.resolve()}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, roots=self.roots))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def publish(self, model: Path) -> str:
        folder = model.resolve().parent
        token = next((t for t, p in self.roots.items() if p == folder), None)
        if token is None:
            token = f"{len(self.roots)}"
            self.roots[token] = folder
        return f"{self.base}/m/{token}/{quote(model.name)}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _decode(data_url: str) -> np.ndarray:
    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


class Renderer:
    """One Chromium and one viewer page for a whole bench run (a crashed page is replaced)."""

    def __init__(self, size: int = 512, views: tuple[tuple[float, float], ...] = VIEWS, timeout: float = 120):
        self.size = size
        self.views = views
        self.timeout = timeout
        self._playwright: Any = None
        self._browser: Any = None
        self._page: Any = None
        self._server: _Server | None = None
        self._profile = ""

    def __enter__(self) -> Renderer:
        reason = renderer_available()
        if reason:
            raise RuntimeError(reason)
        from playwright.sync_api import sync_playwright

        self._server = _Server()
        self._profile = tempfile.mkdtemp(prefix="bench-chromium-")
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch_persistent_context(
            self._profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": self.size, "height": self.size},
            device_scale_factor=1,
        )
        self.restart_page()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._browser:
            self._browser.close()
        if self._playwright:
            self._playwright.stop()
        if self._server:
            self._server.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def restart_page(self) -> None:
        """Open a fresh viewer page (after a crash; also used to check that renders repeat)."""
        assert self._server is not None
        if self._page is not None:
            self._page.close()
        self._page = self._browser.new_page()
        self._page.goto(f"{self._server.base}/app/index.html")
        self._page.wait_for_function("window.viewerReady === true", polling=100, timeout=60_000)

    def render(self, model: Path, frame: dict[str, Any] | None = None) -> RenderResult:
        """Render model from every view; frame (from the original's result) fixes the cameras."""
        assert self._server is not None, "use Renderer as a context manager"
        started = time.perf_counter()
        args = {
            "url": self._server.publish(model),
            "size": self.size,
            "views": [list(v) for v in self.views],
            "frame": frame,
            "background": list(BACKGROUND),
            "timeoutMs": int(self.timeout * 1000),
        }
        try:
            answer = self._page.evaluate("args => window.renderModel(args)", args)
        except Exception as err:  # the page crashed or hung: report it, start a fresh page
            self.restart_page()
            return RenderResult(False, error=f"viewer crashed: {err}".splitlines()[0])
        seconds = time.perf_counter() - started
        if not answer.get("ok"):
            return RenderResult(False, error=answer.get("error", "unknown error"), seconds=seconds)
        images = [_decode(url) for url in answer["images"]]
        return RenderResult(True, images=images, frame=answer["frame"], seconds=seconds)
