"""The Compress page in a real browser: the whole journey from dropping a model to History and
Usage, both 3D previews drawn (pixels read back), the download validated, several models and a
.gltf with its files at once, the Advanced panel, and bad files explained in plain words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import glbcompress
from glbcompress.service.web.figures import format_size, texture_rows
from tests.browser.conftest import save_screenshot
from tests.fixtures.models import generate_all
from tests.tools import have_validator, validate

DONE = ".card[data-state=done]"
FAILED = ".card[data-state=failed]"

RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.progress-label')) {
    if (el.textContent && window.__progress.at(-1) !== el.textContent) window.__progress.push(el.textContent);
  }
}).observe(document.getElementById('cards'), {subtree: true, childList: true, characterData: true});
"""

# Pixels of a canvas that differ from its background (its top-left corner): the model drawn.
DRAWN_PIXELS = """
(canvas) => {
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const ctx = copy.getContext('2d');
  ctx.drawImage(canvas, 0, 0);
  const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
  const bg = [data[0], data[1], data[2]];
  let drawn = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1]) + Math.abs(data[i + 2] - bg[2]) > 24) drawn++;
  }
  return {drawn, total: copy.width * copy.height};
}
"""


@pytest.fixture(autouse=True)
def three_installed() -> None:
    from glbcompress.service.web import vendor

    if not vendor.installed():
        pytest.skip("three.js (the 3D preview) is not installed: run scripts/setup (needs npm)")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("models"))


def drawn_fraction(page: Any, selector: str) -> float:
    result = page.eval_on_selector(selector, DRAWN_PIXELS)
    return result["drawn"] / max(1, result["total"])


def test_compress_journey(signed_up: Any, models: dict[str, Path], tmp_path: Path) -> None:
    page = signed_up
    page.goto("/compress")
    page.evaluate(RECORD_PROGRESS)
    source = models["textured_box.glb"]
    drop_files(page, {source.name: source.read_bytes()})

    card = page.locator(DONE)
    card.wait_for(timeout=60_000)
    progress = page.evaluate("window.__progress")
    assert any("Uploading" in text or "%" in text or "Queued" in text for text in progress), progress

    expected = glbcompress.compress(source, tmp_path / "expected.glb", preset="balanced")
    assert card.locator(".card-title").inner_text() == "textured_box.glb"
    assert card.locator(".size-before").inner_text() == format_size(expected.input_bytes)
    assert card.locator(".size-after").inner_text() == format_size(expected.output_bytes)
    saved = round((1 - expected.output_bytes / expected.input_bytes) * 100)
    assert f"{saved}% smaller" in card.locator(".size-ratio").inner_text()
    triangles = card.locator(".counts tr", has_text="Triangles").locator("td")
    assert triangles.all_inner_texts() == [
        str(expected.scene_before.triangles),
        str(expected.scene_after.triangles),
    ]
    textures = card.locator(".counts tr", has_text="Textures").locator("td")
    assert textures.all_inner_texts() == [
        str(expected.scene_before.textures),
        str(expected.scene_after.textures),
    ]
    # The bar chart: a row per category with bytes, each with its before and after figures.
    chart = card.locator(".bytes-chart")
    categories = {"geometry": "Geometry", "textures": "Textures", "animation": "Animation", "other": "Other"}
    shown = 0
    for key, label in categories.items():
        figures = expected.as_dict()
        before, after = figures["bytes_before"].get(key, 0), figures["bytes_after"].get(key, 0)
        if not before and not after:
            continue
        shown += 1
        row = chart.locator(".chart-row", has=page.locator(".chart-label", has_text=label))
        assert row.locator(".chart-value").all_inner_texts() == [
            f"Before {format_size(before)}",
            f"After {format_size(after)}",
        ], label
    assert shown >= 2 and chart.locator(".chart-row").count() == shown
    assert "Geometry" in chart.get_attribute("aria-label")
    fidelity = card.locator(".fidelity").inner_text()
    for label in (
        "Largest position error",
        "Lowest texture similarity (SSIM)",
        "Meshopt: largest normal error",
    ):
        assert label in fidelity, fidelity
    assert card.locator(".warnings").is_hidden()  # this model gives no warning
    # The Textures table: a row per texture, as the report words it.
    table = card.locator("table.textures")
    assert table.is_visible() and table.locator("caption").inner_text() == "Textures"
    headers = table.locator("thead th").all_inner_texts()
    assert headers == ["Image", "Class", "Before", "After", "Quality", "SSIM", "PSNR"]
    step = next(p for p in expected.passes if p.name == "textures")
    (raw,) = step.changes["textures"]
    assert raw["after"]["format"] == "webp"
    cells = table.locator("tbody tr").locator("th, td").all_inner_texts()
    (row,) = texture_rows(expected.as_dict())
    assert cells == list(row.values())
    assert cells[:2] == ["images[0] (checker)", "colour"]
    assert cells[2] == f"PNG 64×64, {format_size(raw['before']['bytes'])}"
    assert cells[3] == f"WebP 64×64, {format_size(raw['after']['bytes'])}"
    assert cells[5] == f"{raw['ssim']:.5f}" and cells[6] == f"{raw['psnr']:.2f} dB"

    # Both previews draw the model: read their pixels back.
    for view in (".view-before", ".view-after"):
        card.locator(f"{view}[data-state=ready]").wait_for(timeout=60_000)
    page.wait_for_timeout(300)
    for view in (".view-before", ".view-after"):
        fraction = drawn_fraction(page, f"{DONE} {view}")
        assert fraction > 0.02, (view, fraction)
    assert "12 triangles" in card.locator(".pane-after figcaption").inner_text()
    save_screenshot(page, "dashboard-compress-result")

    with page.expect_download() as info:
        card.get_by_role("link", name="Download GLB").click()
    download = info.value
    assert download.suggested_filename == "textured_box-compressed.glb"
    result = tmp_path / download.suggested_filename
    download.save_as(result)
    assert result.read_bytes() == (tmp_path / "expected.glb").read_bytes()  # deterministic engine
    if have_validator():
        (report,) = validate(result)
        assert report["errors"] == 0, report

    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="History").click()
    page.wait_for_url("**/history")
    row = page.locator("table.history tbody tr")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "textured_box.glb" and cells[2] == "Dashboard", cells
    assert cells[3:8] == [
        format_size(expected.input_bytes),
        format_size(expected.output_bytes),
        f"{saved}% smaller",
        "Done",
        "in 24 h",
    ], cells
    with page.expect_download() as again:  # re-downloaded from History while it is kept
        row.get_by_role("link", name="Download").click()
    again.value.save_as(tmp_path / "again.glb")
    assert (tmp_path / "again.glb").read_bytes() == result.read_bytes()

    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Usage").click()
    page.wait_for_url("**/usage")
    total = page.locator("#usage-total td").all_inner_texts()
    assert total[0] == "1"
    assert total[4] == format_size(expected.input_bytes - expected.output_bytes)


DROP = """
async ([files]) => {
  const dt = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], f.name));
  }
  document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
}
"""


def drop_files(page: Any, files: dict[str, bytes]) -> None:
    """Drop files on the drop zone, as a user dragging them from their desktop."""
    import base64

    payload = [{"name": name, "b64": base64.b64encode(data).decode()} for name, data in files.items()]
    page.evaluate(DROP, [payload])


def card_named(page: Any, title: str) -> Any:
    return page.locator(".card", has=page.locator(".card-title", has_text=title))


def test_several_models_and_a_gltf_with_its_files(signed_up: Any, models: dict[str, Path]) -> None:
    page = signed_up
    page.goto("/compress")
    folder = models["interleaved.gltf"].parent
    drop_files(
        page,
        {
            "skinned_rig.glb": models["skinned_rig.glb"].read_bytes(),
            "interleaved.gltf": models["interleaved.gltf"].read_bytes(),
            "box data #1.bin": (folder / "box data #1.bin").read_bytes(),
            "notes.txt": b"not a model",
        },
    )
    problem = page.locator("#drop-errors")
    problem.get_by_text("“notes.txt” is a .txt file, not a model").wait_for()
    rig = card_named(page, "skinned_rig.glb")
    gltf = card_named(page, "interleaved.gltf (with 1 file)")
    for card in (rig, gltf):
        card.locator(".status-badge", has_text="Done").wait_for(timeout=60_000)
    assert page.locator(".card").count() == 2
    assert rig.locator(".textures-box").is_hidden()  # no textures, no Textures table
    # One preview at a time: open the .gltf's, whose original comes from the two dropped files.
    if gltf.get_attribute("data-preview") != "open":
        gltf.get_by_role("button", name="Show 3D preview").click()
    for view in (".view-before", ".view-after"):
        gltf.locator(f"{view}[data-state=ready]").wait_for(timeout=60_000)
    assert page.locator(".card[data-preview=open]").count() == 1
    assert rig.locator(".preview").is_hidden()
    page.wait_for_timeout(300)
    for view in (".view-before", ".view-after"):
        fraction = page.eval_on_selector(f".card[data-preview=open] {view}", DRAWN_PIXELS)
        assert fraction["drawn"] > 0.02 * fraction["total"], (view, fraction)
    # The rig is animated: its preview plays, pauses and toggles wireframe without errors.
    rig.get_by_role("button", name="Show 3D preview").click()
    rig.locator(".view-after[data-state=ready]").wait_for(timeout=60_000)
    assert rig.locator(".animation-tools").is_visible()
    rig.get_by_role("button", name="Pause").click()
    rig.get_by_label("Wireframe").check()
    rig.get_by_role("button", name="Reset view").click()
    assert gltf.locator(".preview").is_hidden()


def test_a_zip_with_a_folder(signed_up: Any, models: dict[str, Path], tmp_path: Path) -> None:
    import zipfile

    page = signed_up
    page.goto("/compress")
    folder = models["interleaved.gltf"].parent
    archive = tmp_path / "chair.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(models["interleaved.gltf"], "chair/scene.gltf")
        z.write(folder / "box data #1.bin", "chair/box data #1.bin")
    page.set_input_files("#file-input", str(archive))
    card = page.locator(DONE)
    card.wait_for(timeout=60_000)
    for view in (".view-before", ".view-after"):
        card.locator(f"{view}[data-state=ready]").wait_for(timeout=60_000)
    with page.expect_download() as info:
        card.get_by_role("link", name="Download GLB").click()
    assert info.value.suggested_filename == "chair-compressed.glb"

    # The same model as a folder, through "Choose a folder…": the .gltf goes up with its file.
    chair = tmp_path / "chair"
    chair.mkdir()
    (chair / "scene.gltf").write_bytes(models["interleaved.gltf"].read_bytes())
    (chair / "box data #1.bin").write_bytes((folder / "box data #1.bin").read_bytes())
    page.set_input_files("#folder-input", str(chair))
    picked = card_named(page, "scene.gltf (with 1 file)")
    picked.locator(".status-badge", has_text="Done").wait_for(timeout=60_000)
    assert page.locator("#drop-errors").inner_text() == ""


def test_warnings_are_listed(signed_up: Any, tmp_path: Path) -> None:
    """A mesh tiny next to the rest of the scene loses detail on the shared position grid; the card
    names it in its warnings."""
    from glbcompress.engine.reader import read
    from glbcompress.engine.writer import write_glb
    from tests.fixtures.quantize_models import adjacent_meshes

    doc = read(adjacent_meshes(tmp_path / "adjacent.glb"))
    right = doc.meshes[1]["primitives"][0]["attributes"]["POSITION"]
    right.data = right.data * 5000
    write_glb(doc, tmp_path / "far apart.glb")
    page = signed_up
    page.goto("/compress")
    page.set_input_files("#file-input", str(tmp_path / "far apart.glb"))
    card = page.locator(DONE)
    card.wait_for(timeout=60_000)
    warnings = card.locator(".warnings")
    assert warnings.get_by_role("heading", name="Warnings").is_visible()
    (text,) = warnings.locator("li").all_inner_texts()
    assert text.startswith("Meshes Left are small next to the scene") and "position_grid='mesh'" in text


def test_bad_files_are_explained(signed_up: Any, models: dict[str, Path]) -> None:
    page = signed_up
    page.goto("/compress")
    drop_files(
        page,
        {
            "broken.glb": b"this is not a model at all",
            "lonely.gltf": models["interleaved.gltf"].read_bytes(),  # its .bin is not dropped
            "empty.zip": b"PK\x05\x06" + b"\0" * 18,  # a valid zip with nothing in it
        },
    )
    expected = {
        "broken.glb": "This is not a glTF model",
        "lonely.gltf": "is missing (upload it together with the .gltf)",
        "empty.zip": "The zip holds no .gltf or .glb model.",
    }
    for name, message in expected.items():
        card = card_named(page, name)
        card.locator(".status-badge", has_text="Failed").wait_for(timeout=60_000)
        text = card.locator(".card-error").inner_text()
        assert message in text, (name, text)
        assert "Traceback" not in text and "Error:" not in text
    assert page.locator(".preview:visible").count() == 0


def test_advanced_options(signed_up: Any, models: dict[str, Path]) -> None:
    from glbcompress.engine.options import schema
    from glbcompress.service.web.options_panel import NOT_IN_JOBS

    page = signed_up
    page.goto("/compress")
    # Generated from the engine's schema: every option has its control, with its explanation.
    for entry in schema():
        control = page.locator(f"[data-option='{entry['name']}']")
        assert control.count() == (0 if entry["name"] in NOT_IN_JOBS else 1), entry["name"]
    page.get_by_text("Advanced options").click()
    bits = page.get_by_label("Position bits", exact=True)
    assert bits.input_value() == "14"
    page.locator("input[name=preset][value=max]").check()
    # The preset uses both mesh codecs (Draco where it makes a mesh smaller); turning Draco on by
    # itself means Draco alone: Meshopt and quantization go off.
    draco = page.get_by_label("Draco compression", exact=True)
    assert draco.is_checked() and page.get_by_label("Meshopt compression", exact=True).is_checked()
    draco.uncheck()
    assert page.get_by_label("Meshopt compression", exact=True).is_checked()
    draco.check()
    assert not page.get_by_label("Meshopt compression", exact=True).is_checked()
    assert not page.get_by_label("Quantization", exact=True).is_checked()
    assert bits.is_disabled()
    page.get_by_role("button", name="Reset to the preset").click()
    assert page.get_by_label("Meshopt compression", exact=True).is_checked() and bits.is_enabled()

    bits.fill("99")
    page.set_input_files("#file-input", str(models["textured_box.glb"]))
    page.locator("#drop-errors").get_by_text("“Position bits” has a value that is not allowed").wait_for()
    assert page.locator(".card").count() == 0

    bits.fill("10")
    with page.expect_request(lambda r: r.method == "POST" and "/jobs?" in r.url) as request:
        page.set_input_files("#file-input", str(models["textured_box.glb"]))
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(request.value.url).query)
    assert query["preset"] == ["max"]
    assert json.loads(query["options"][0]) == {"position_bits": 10}
    card = page.locator(DONE)
    card.wait_for(timeout=60_000)
    job = page.evaluate("(id) => fetch('/jobs/' + id).then((r) => r.json())", card.get_attribute("data-job"))
    assert job["options"] == {"preset": "max", "options": {"position_bits": 10}}
