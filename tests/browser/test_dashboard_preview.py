"""The Compress page's progress and 3D preview in a real browser, beyond the journey: the upload
bar moves on a slow connection, the current step is shown while the job runs, a KTX2 + Draco result
is decoded by the decoders we serve (nothing is fetched from another origin), and the preview's
tools do what they say: one camera for both views, wireframe, animation playback and pause; a
texture turned by its EXIF orientation looks the same after."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from glbcompress.service.web.figures import format_size
from tests.browser.conftest import save_screenshot
from tests.browser.test_dashboard_compress import DRAWN_PIXELS, drawn_fraction
from tests.fixtures import texture_models
from tests.fixtures.models import generate_all

DONE = ".card[data-state=done]"

RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver(() => {
  for (const card of document.querySelectorAll('.card')) {
    const label = card.querySelector('.progress-label').textContent;
    const bar = card.querySelector('progress');
    const value = bar.hasAttribute('value') ? bar.value : null;
    const last = window.__progress.at(-1);
    if (label && (!last || last.label !== label)) window.__progress.push({label, value});
  }
}).observe(document.getElementById('cards'), {subtree: true, childList: true, characterData: true, attributes: true});
"""

# The canvas scaled down to 32 x 24 RGB values: enough to tell whether what it shows changed.
THUMBNAIL = """
(canvas) => {
  const copy = document.createElement('canvas');
  copy.width = 32; copy.height = 24;
  const ctx = copy.getContext('2d');
  ctx.drawImage(canvas, 0, 0, 32, 24);
  return Array.from(ctx.getImageData(0, 0, 32, 24).data).filter((_, i) => i % 4 !== 3);
}
"""


@pytest.fixture(autouse=True)
def three_installed() -> None:
    from glbcompress.service.web import vendor

    if not vendor.installed():
        pytest.skip("three.js (the 3D preview) is not installed: run scripts/setup (needs npm)")


def thumbnail(page: Any, selector: str) -> list[int]:
    return page.eval_on_selector(selector, THUMBNAIL)


def difference(a: list[int], b: list[int]) -> float:
    """Mean absolute difference of two thumbnails, 0-255."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def test_progress_and_ktx2_draco_decoded_by_our_own_decoders(signed_up: Any, tmp_path: Path) -> None:
    from glbcompress.engine.textures import basisu

    if basisu.find() is None:
        pytest.skip("the KTX2 encoder basisu is not installed: run scripts/setup")
    page = signed_up
    server = page.evaluate("location.origin")
    requests: list[str] = []
    page.context.on("request", lambda request: requests.append(request.url))
    page.goto("/compress")
    page.evaluate(RECORD_PROGRESS)

    page.get_by_text("Advanced options").click()
    # Without Meshopt, Draco takes every mesh (the preset gives it only those it makes smaller).
    page.get_by_label("Meshopt compression", exact=True).uncheck()
    assert page.get_by_label("Draco compression", exact=True).is_checked()
    page.get_by_label("Texture format", exact=True).select_option("ktx2")

    # A slow connection, so the upload takes a while and its bar is seen moving.
    model = texture_models.large_texture(tmp_path / "poster.glb", 1024)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = model.stat().st_size // 2  # bytes per second: about two seconds of upload
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": rate},
    )
    page.set_input_files("#file-input", str(model))
    card = page.locator(DONE)
    card.wait_for(timeout=90_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    progress = page.evaluate("window.__progress")
    uploading = [p for p in progress if p["label"].startswith("Uploading…")]
    partial = [p for p in uploading if p["value"] is not None and 0 < p["value"] < 1]
    assert partial, progress  # the bar stood somewhere between empty and full
    size = re.escape(format_size(model.stat().st_size))
    assert re.fullmatch(rf"Uploading… \d+% of {size}", partial[0]["label"]), partial[0]
    # While the job ran, the card named its step and progress (which step a poll catches depends on
    # the machine's speed; the KTX2 encoding of a 1024-pixel texture keeps the job running a while).
    steps = [p["label"] for p in progress if not p["label"].startswith(("Uploading", "Waiting"))]
    assert any(re.fullmatch(r"[A-Z][a-z ]+… \d+%", label) for label in steps), progress

    assert card.locator(".counts tr", has_text="Textures").locator("td").all_inner_texts() == ["1", "1"]
    assert "Lowest texture similarity" in card.locator(".fidelity").inner_text()

    for view in (".view-before", ".view-after"):
        card.locator(f"{view}[data-state=ready]").wait_for(timeout=60_000)
    page.wait_for_timeout(300)
    for view in (".view-before", ".view-after"):
        assert drawn_fraction(page, f"{DONE} {view}") > 0.02, view
    assert card.locator(".preview-message").inner_text() == ""
    # The KTX2 texture was transcoded, not drawn black or untextured: both views look alike.
    views = [thumbnail(page, f"{DONE} {view}") for view in (".view-before", ".view-after")]
    assert difference(*views) < 6
    save_screenshot(page, "dashboard-preview-ktx2-draco")

    # The decoders came from us: Draco's and Basis' WebAssembly, from the npm package we serve.
    paths = {urlsplit(url).path for url in requests if url.startswith(server)}
    assert "/vendor/three/examples/jsm/libs/draco/gltf/draco_decoder.wasm" in paths
    assert "/vendor/three/examples/jsm/libs/basis/basis_transcoder.wasm" in paths
    foreign = [url for url in requests if not url.startswith((server + "/", "blob:", "data:"))]
    assert not foreign, foreign


def test_preview_tools(signed_up: Any, tmp_path: Path) -> None:
    models = generate_all(tmp_path / "models")
    page = signed_up
    page.goto("/compress")
    page.set_input_files("#file-input", str(models["skinned_rig.glb"]))
    card = page.locator(DONE)
    card.wait_for(timeout=60_000)
    before, after = f"{DONE} .view-before", f"{DONE} .view-after"
    for view in (before, after):
        page.locator(f"{view}[data-state=ready]").wait_for(timeout=60_000)
    assert "triangles" in card.locator(".pane-before figcaption").inner_text()
    assert (
        card.locator(".pane-after figcaption").inner_text().endswith(card.locator(".size-after").inner_text())
    )

    # The rig's animation plays: the picture changes by itself, until paused.
    assert card.locator(".clip option").count() >= 1
    first = thumbnail(page, after)
    moved = 0.0
    for _ in range(20):  # a loaded machine draws fewer frames: look again rather than once at 500 ms
        page.wait_for_timeout(250)
        moved = max(moved, difference(first, thumbnail(page, after)))
        if moved > 0.2:
            break
    assert moved > 0.2
    card.get_by_role("button", name="Pause").click()
    assert card.get_by_role("button", name="Play").is_visible()
    page.wait_for_timeout(100)
    still = [thumbnail(page, view) for view in (before, after)]
    page.wait_for_timeout(300)
    assert difference(still[1], thumbnail(page, after)) == 0
    # Paused at the same moment, both views show the same pose from the same camera.
    assert difference(*still) < 4

    # Orbiting one view turns the other with it.
    box = page.locator(before).bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 9):
        page.mouse.move(x + step * 15, y + step * 4)
    page.mouse.up()
    page.wait_for_timeout(100)
    turned = [thumbnail(page, view) for view in (before, after)]
    assert difference(still[0], turned[0]) > 1 and difference(still[1], turned[1]) > 1
    assert difference(*turned) < 4

    # Zooming (the wheel) moves both as well.
    page.mouse.move(x, y)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(200)
    zoomed = [thumbnail(page, view) for view in (before, after)]
    assert difference(turned[1], zoomed[1]) > 1 and difference(*zoomed) < 4

    # Reset view brings the camera home: the pictures from before orbiting and zooming.
    card.get_by_role("button", name="Reset view").click()
    page.wait_for_timeout(100)
    assert difference(still[1], thumbnail(page, after)) < 1

    # Wireframe draws the triangles' edges only: fewer pixels than the solid surfaces, in both.
    solid = [page.eval_on_selector(view, DRAWN_PIXELS)["drawn"] for view in (before, after)]
    card.get_by_label("Wireframe").check()
    page.wait_for_timeout(100)
    wire = [page.eval_on_selector(view, DRAWN_PIXELS)["drawn"] for view in (before, after)]
    assert all(0 < w < 0.8 * s for w, s in zip(wire, solid, strict=True)), (wire, solid)
    card.get_by_label("Wireframe").uncheck()
    page.wait_for_timeout(100)
    assert difference(still[1], thumbnail(page, after)) < 1


def test_a_texture_turned_by_its_exif_orientation_looks_the_same_after(
    signed_up: Any, tmp_path: Path
) -> None:
    # Chromium turns a JPEG or PNG texture by its EXIF orientation; a re-encoded image has none,
    # so the engine keeps tagged images and the after view shows the boxes as the before view does
    # (re-encoded, their red bars turned a quarter: the views differed by 12.6 of 255).
    page = signed_up
    page.goto("/compress")
    page.set_input_files("#file-input", str(texture_models.exif_turned_boxes(tmp_path / "turned.glb", 6)))
    card = page.locator(DONE)
    card.wait_for(timeout=90_000)
    for view in (".view-before", ".view-after"):
        card.locator(f"{view}[data-state=ready]").wait_for(timeout=60_000)
    page.wait_for_timeout(300)
    views = [thumbnail(page, f"{DONE} {view}") for view in (".view-before", ".view-after")]
    assert drawn_fraction(page, f"{DONE} .view-before") > 0.02
    assert difference(*views) < 6
