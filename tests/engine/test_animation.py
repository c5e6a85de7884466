"""animation: idle tracks dropped only where that is safe, keyframes removed within tolerance,
STEP and CUBICSPLINE untouched, rotations and weights stored as 16-bit integers, output valid."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.document import Accessor, Document
from glbcompress.engine.passes import _keyframes as kf
from glbcompress.engine.passes.animation import DEFAULTS, AnimationOptions, _tracks, animation
from glbcompress.engine.reader import read
from glbcompress.engine.writer import write_glb
from tests.fixtures import animation_models, models
from tests.tools import CORPUS, new_errors, validate

CORPUS_MODELS = {
    "Fox": "Fox/Fox.glb",
    "CesiumMilkTruck": "CesiumMilkTruck/CesiumMilkTruck.gltf",
    "RobotExpressive": "RobotExpressive/RobotExpressive.glb",
    "Soldier": "Soldier/Soldier.glb",
    "InterpolationTest": "InterpolationTest/InterpolationTest.gltf",
    "FusionSketchfab": "FusionSketchfab/fusion.glb",
    "Horse": "Horse/Horse.glb",
    "MorphStressTest": "MorphStressTest/MorphStressTest.gltf",
}
INT16_ANGLE = 2.5 / 32767  # largest rotation change from storing a unit quaternion as normalized shorts
INT16_VALUE = 0.5 / 65535 + 1e-7


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("animation")


# -- playing animations, independently of the pass ----------------------------------------------


def _slerp(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    dot = np.sum(a * b, axis=1)
    b = np.where(dot[:, None] < 0, -b, b)
    theta = np.arccos(np.clip(np.abs(dot), 0, 1))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (np.sin((1 - u[:, None]) * theta) * a + np.sin(u[:, None] * theta) * b) / np.sin(theta)
    lerp = (1 - u[:, None]) * a + u[:, None] * b
    out = np.where(theta < 1e-6, lerp, out)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def play(sampler: dict, path: str, at: np.ndarray) -> np.ndarray:
    """The sampler's value at each time, as a glTF player computes it (LINEAR, STEP, CUBICSPLINE)."""
    times = sampler["input"].floats()[:, 0].astype(np.float64)
    values = sampler["output"].floats().astype(np.float64)
    interpolation = sampler.get("interpolation", "LINEAR")
    cubic = interpolation == "CUBICSPLINE"
    values = values.reshape(len(times), 3 if cubic else 1, -1)
    at = np.clip(at, times[0], times[-1])
    i = np.clip(np.searchsorted(times, at, side="right") - 1, 0, len(times) - 1)
    j = np.minimum(i + 1, len(times) - 1)
    span = times[j] - times[i]
    u = np.where(span > 0, (at - times[i]) / np.where(span > 0, span, 1), 0.0)
    if interpolation == "STEP":
        return values[i, 0]
    if cubic:
        u2, u3 = u * u, u * u * u
        p0, m0 = values[i, 1], values[i, 2] * span[:, None]
        p1, m1 = values[j, 1], values[j, 0] * span[:, None]
        out = (
            (2 * u3 - 3 * u2 + 1)[:, None] * p0
            + (u3 - 2 * u2 + u)[:, None] * m0
            + (-2 * u3 + 3 * u2)[:, None] * p1
            + (u3 - u2)[:, None] * m1
        )
        return out / np.linalg.norm(out, axis=1, keepdims=True) if path == "rotation" else out
    if path == "rotation":
        return _slerp(values[i, 0], values[j, 0], u)
    return values[i, 0] + (values[j, 0] - values[i, 0]) * u[:, None]


def rest(node: dict, path: str) -> np.ndarray:
    if path == "weights":
        return np.asarray(node.get("weights", node["mesh"].get("weights")), np.float64)
    default = {"translation": [0, 0, 0], "rotation": [0, 0, 0, 1], "scale": [1, 1, 1]}[path]
    return np.asarray(node.get(path, default), np.float64)


def difference(path: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if path == "rotation":
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        return 2 * np.arccos(np.clip(np.abs(np.sum(a * b, axis=1)), 0, 1))
    if path == "translation":
        return np.linalg.norm(a - b, axis=1)
    return np.abs(a - b).max(axis=1)


def poses(doc: Document, anim: dict) -> dict[tuple[int, str], tuple[dict, str]]:
    """(node index, path) -> (sampler, path) for each channel of the animation."""
    return {
        (doc.nodes.index(c["target"]["node"]), c["target"]["path"]): (c["sampler"], c["target"]["path"])
        for c in anim["channels"]
    }


def assert_plays_the_same(
    before: Document, after: Document, tolerances: dict[tuple[int, int, str], float]
) -> None:
    """Every node property each original animation drives shows, at every original keyframe time,
    the same value within tolerance when the processed animation plays (the rest value where the
    track was dropped); and a dropped track was not needed to undo another animation's motion."""
    if len(after.animations) == len(before.animations):
        matched = list(after.animations)
    else:  # animations were removed: only named ones can be told apart
        named = {a.get("name"): a for a in after.animations if a.get("name")}
        matched = [named.get(a.get("name")) if a.get("name") else None for a in before.animations]

    def deviation(k: int, node: int, path: str, want: np.ndarray, got: np.ndarray) -> float:
        worst = float(difference(path, want, got).max())
        return worst / max(float(np.abs(want).max()), 1e-12) if path == "scale" else worst

    def limit(k: int, node: int, path: str) -> float:
        return tolerances.get((k, node, path), 0.0) * 1.0001 + 1e-6

    moving: dict[tuple[int, str], set[int]] = {}
    for k, anim in enumerate(before.animations):
        for (node, path), (sampler, _p) in poses(before, anim).items():
            times = sampler["input"].floats()[:, 0].astype(np.float64)
            want = play(sampler, path, times)
            held = np.tile(rest(before.nodes[node], path), (len(times), 1))
            if deviation(k, node, path, want, held) > limit(k, node, path):
                moving.setdefault((node, path), set()).add(k)
    for k, anim in enumerate(before.animations):
        played = poses(after, matched[k]) if matched[k] is not None else {}
        for (node, path), (sampler, _p) in poses(before, anim).items():
            times = sampler["input"].floats()[:, 0].astype(np.float64)
            want = play(sampler, path, times)
            if (node, path) in played:
                got = play(played[(node, path)][0], path, times)
            else:
                got = np.tile(rest(after.nodes[node], path), (len(times), 1))
                assert not moving.get((node, path)), (
                    f"{anim.get('name')}: dropped {path} of node {node}, which animations {moving[(node, path)]} move"
                )
            slack = INT16_ANGLE if path == "rotation" else INT16_VALUE if path == "weights" else 0
            worst = deviation(k, node, path, want, got)
            assert worst <= limit(k, node, path) + slack, (
                f"{anim.get('name')}: {path} of node {node} off by {worst:.3g} (limit {limit(k, node, path):.3g})"
            )


def track_tolerances(doc: Document, options: AnimationOptions) -> dict[tuple[int, int, str], float]:
    out = {}
    for t in _tracks(doc, options):
        for c in t.channels:
            anim = next(k for k, a in enumerate(doc.animations) if any(x is c for x in a["channels"]))
            out[(anim, doc.nodes.index(c["target"]["node"]), t.path)] = t.tolerance
    return out


def _anim(doc: Document, name: str | None) -> dict:
    return next(a for a in doc.animations if a.get("name") == name)


def _channel(doc: Document, anim: dict, node: str, path: str) -> dict | None:
    return next(
        (
            c
            for c in anim["channels"]
            if c["target"]["node"].get("name") == node and c["target"]["path"] == path
        ),
        None,
    )


# -- the rules, on a generated rig --------------------------------------------------------------


def test_idle_tracks_and_empty_animations(folder: Path) -> None:
    path = animation_models.clips(folder / "clips.glb")
    before, doc = read(path), read(path)
    changes = animation(doc)
    wave, rest_, idle = _anim(doc, "Wave"), _anim(doc, "Rest"), _anim(doc, "Idle")
    assert len(doc.animations) == 3, "the unnamed animation that moved nothing is removed"
    assert changes["animations removed"] == 1 and changes["warnings"]
    assert _channel(doc, wave, "Arm", "translation") is None, "held at rest, moved by no one: dropped"
    assert changes["tracks dropped"] == 2
    # Held at rest, but Wave moves it: Rest must still put it back.
    kept = _channel(doc, rest_, "Arm", "rotation")
    assert kept is not None and kept["sampler"]["input"].count == 2
    # Held at rest and moved by no one, but Wave's longest track: kept for the duration, two keys.
    body = _channel(doc, wave, "Body", "translation")
    assert body is not None and body["sampler"]["input"].floats()[:, 0].tolist() == [0, 3]
    # Named and idle: one track left, its time span kept.
    assert len(idle["channels"]) == 1 and idle["channels"][0]["sampler"]["input"].floats()[:, 0].tolist() == [
        0,
        2,
    ]
    # Constant but not at rest: two keys.
    scale = _channel(doc, wave, "Hand", "scale")["sampler"]
    assert scale["input"].count == 2 and np.allclose(scale["output"].floats(), 2)
    assert all(len(a["samplers"]) == len({id(c["sampler"]) for c in a["channels"]}) for a in doc.animations)
    assert_plays_the_same(before, doc, track_tolerances(before, DEFAULTS))


def test_step_and_cubic_survive_untouched(folder: Path) -> None:
    path = animation_models.clips(folder / "clips.glb")
    before, doc = read(path), read(path)
    animation(doc)
    for node, path_ in (("Hand", "rotation"), ("Tip", "translation")):
        old = _channel(before, _anim(before, "Wave"), node, path_)["sampler"]
        new = _channel(doc, _anim(doc, "Wave"), node, path_)["sampler"]
        assert new["interpolation"] == old["interpolation"] in ("CUBICSPLINE", "STEP")
        for key in ("input", "output"):
            assert new[key].data.dtype == old[key].data.dtype
            assert np.array_equal(new[key].data, old[key].data)


def test_resampling_shares_inputs_and_stays_within_tolerance(folder: Path) -> None:
    path = animation_models.clips(folder / "clips.glb")
    before, doc = read(path), read(path)
    changes = animation(doc)
    wave = _anim(doc, "Wave")
    swing = _channel(doc, wave, "Arm", "rotation")["sampler"]
    ramp = _channel(doc, wave, "Hand", "translation")["sampler"]
    assert 2 < swing["input"].count < 121 / 3, "a smooth swing needs few keyframes"
    assert ramp["input"].count == 2, "a straight ramp needs two"
    # Two-key inputs over 0..2 s are one accessor, and the original 121-key input is gone.
    assert ramp["input"] is _channel(doc, wave, "Hand", "scale")["sampler"]["input"]
    assert ramp["input"] is _channel(doc, _anim(doc, "Rest"), "Arm", "rotation")["sampler"]["input"]
    assert not any(a.count == 121 for a in doc.accessors)
    assert swing["output"].data.dtype == np.int16 and swing["output"].normalized
    assert "interpolation" not in swing, "LINEAR is the default"
    assert 0 < changes["fidelity"]["animation error"] <= DEFAULTS.resample_tolerance
    assert_plays_the_same(before, doc, track_tolerances(before, DEFAULTS))


def test_translation_tolerance_follows_size_and_parent_scale(folder: Path) -> None:
    doc = read(animation_models.clips(folder / "clips.glb"))
    tracks = {
        (t.channels[0]["target"]["node"]["name"], t.path): t for t in _tracks(doc, DEFAULTS) if t.channels
    }
    hand = tracks[("Hand", "translation")].tolerance
    body = tracks[("Body", "translation")].tolerance
    assert hand == pytest.approx(body / 2), "Hand sits under Root's scale of 2"
    assert tracks[("Arm", "rotation")].tolerance == DEFAULTS.resample_tolerance
    pos = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"].floats()
    assert body == pytest.approx(DEFAULTS.resample_tolerance * np.linalg.norm(pos.max(0) - pos.min(0)))


def test_resample_off_removes_only_exact_repeats(folder: Path) -> None:
    path = animation_models.clips(folder / "clips.glb")
    before, doc = read(path), read(path)
    options = replace(DEFAULTS, resample=False, quantize_rotations=False, quantize_weights=False)
    changes = animation(doc, options)
    wave = _anim(doc, "Wave")
    assert _channel(doc, wave, "Arm", "rotation")["sampler"]["input"].count == 121
    assert _channel(doc, wave, "Hand", "translation")["sampler"]["input"].count == 121
    assert _channel(doc, wave, "Hand", "scale")["sampler"]["input"].count == 2
    assert _channel(doc, wave, "Arm", "translation") is None
    assert "fidelity" not in changes
    assert_plays_the_same(before, doc, {})
    assert all(a.data.dtype == np.float32 for a in doc.accessors if _is_animation(doc, a))


def test_skinned_rig_and_morph_weights(folder: Path) -> None:
    rig = models.skinned_rig(folder / "rig.glb")
    before, doc = read(rig), read(rig)
    animation(doc)
    channels = doc.animations[0]["channels"]
    assert [c["target"]["path"] for c in channels] == ["rotation", "translation"], (
        "the scale track was at rest"
    )
    assert_plays_the_same(before, doc, track_tolerances(before, DEFAULTS))

    cube = models.morph_cube(folder / "morph.glb")
    before, doc = read(cube), read(cube)
    changes = animation(doc)
    sampler = doc.animations[0]["samplers"][0]
    assert sampler["input"].count == 2, "weights that ramp linearly need two keyframes"
    assert sampler["output"].data.dtype == np.uint16 and sampler["output"].normalized
    assert changes["weights tracks quantized"] == 1
    assert_plays_the_same(before, doc, track_tolerances(before, DEFAULTS))


def test_output_is_valid_and_deterministic(folder: Path) -> None:
    sources = [animation_models.clips(folder / "clips.glb"), models.skinned_rig(folder / "rig.glb")]
    outputs = []
    for src in sources:
        first, second = folder / f"{src.stem}.out.glb", folder / f"{src.stem}.again.glb"
        for out in (first, second):
            doc = read(src)
            animation(doc)
            write_glb(doc, out)
        assert first.read_bytes() == second.read_bytes()
        outputs.append(first)
    reports = validate(*sources, *outputs)
    for i, src in enumerate(sources):
        after = reports[len(sources) + i]
        assert new_errors(reports[i], after) == {}, (src.name, after["messages"][:3])


# -- keyframe reduction on its own --------------------------------------------------------------


def _independent_error(curve: kf.Curve, keep: np.ndarray) -> float:
    kept = np.flatnonzero(keep)
    at = curve.times
    s = np.clip(np.searchsorted(curve.times[kept], at, side="right") - 1, 0, len(kept) - 2)
    left, right = kept[s], kept[s + 1]
    u = (at - curve.times[left]) / (curve.times[right] - curve.times[left])
    a, b = curve.values[left], curve.values[right]
    got = _slerp(a, b, u) if curve.path == "rotation" else a + (b - a) * u[:, None]
    return float(difference(curve.path, curve.values, got).max())


@pytest.mark.parametrize("path", ["translation", "rotation", "weights"])
def test_reduction_bound_holds(path: str) -> None:
    """Curves with smooth stretches, kinks and noise around the tolerance: every original keyframe
    stays within tolerance of what the kept ones interpolate to (checked by independent code)."""
    rng = np.random.default_rng(11)
    n = 300
    times = np.cumsum(rng.uniform(0.01, 0.05, n))
    curves = []
    for _ in range(5):
        tolerance = float(rng.choice([1e-4, 1e-3, 1e-2]))
        width = 4 if path == "rotation" else 3
        smooth = np.sin(times[:, None] * rng.uniform(0.5, 3, width)) * rng.uniform(0.1, 1)
        kinks = np.abs(np.sin(times[:, None] * rng.uniform(0.1, 0.5, width)))
        noise = rng.normal(scale=tolerance * rng.uniform(0.05, 0.3), size=(n, width))
        values = smooth + kinks + noise + (2 if path == "rotation" else 0) * np.eye(width)[-1]
        if path == "rotation":
            values = values / np.linalg.norm(values, axis=1, keepdims=True)
        curves.append(kf.Curve(path, times, values, tolerance))
    for joint in (False, True):
        masks = kf.reduce(curves, joint=joint)
        assert all((~m).sum() > 0 for m in masks), "some keyframes go"
        for curve, keep in zip(curves, masks, strict=True):
            assert keep[0] and keep[-1]
            assert _independent_error(curve, keep) <= curve.tolerance * (1 + 1e-9)
            assert kf.max_error(curve, keep) <= 1 + 1e-9
        if joint:
            assert all(np.array_equal(m, masks[0]) for m in masks)


def test_reduction_of_straight_and_exact_curves() -> None:
    times = np.linspace(0, 1, 1001)
    line = kf.Curve("translation", times, np.stack([times, 2 * times, -times], -1), 1e-6)
    assert kf.reduce([line], joint=False)[0].sum() == 2
    steps = np.repeat(np.arange(5.0), 4)[:, None] * np.ones((1, 3))
    plateau = kf.Curve("translation", np.arange(20.0), steps, 0.0)
    keep = kf.reduce([plateau], joint=False, exact=True)[0]
    assert keep.sum() == 10, "only the inner keyframes of runs of equal values go"
    assert np.array_equal(steps[keep], np.repeat(np.arange(5.0), 2)[:, None] * np.ones((1, 3)))


def test_reduction_of_many_grids_and_widths_at_once() -> None:
    """The pass reduces every track of a model in one call (tracks of several time grids, morph
    weights of several widths): each curve's answer is the one it gets alone, and each group's the
    one it gets alone."""
    rng = np.random.default_rng(5)
    groups = []
    for n, path, width in [
        (40, "rotation", 4),
        (90, "weights", 2),
        (25, "weights", 5),
        (60, "translation", 3),
    ]:
        times = np.cumsum(rng.uniform(0.01, 0.05, n))
        group = []
        for _ in range(3):
            values = np.sin(times[:, None] * rng.uniform(0.5, 3, width)) + rng.normal(0, 1e-4, (n, width))
            if path == "rotation":
                values = values + 2 * np.eye(4)[-1]
                values /= np.linalg.norm(values, axis=1, keepdims=True)
            group.append(kf.Curve(path, times, values, 1e-3))
        groups.append(group)
    curves = [c for group in groups for c in group]
    together = kf.reduce(curves, joint=False)
    assert all(
        np.array_equal(kf.reduce([c], joint=False)[0], keep) for c, keep in zip(curves, together, strict=True)
    )
    assert all((~keep).sum() > 0 for keep in together)
    shared = kf.reduce_shared(groups)
    assert all(
        np.array_equal(kf.reduce(g, joint=True)[0], keep) for g, keep in zip(groups, shared, strict=True)
    )
    errors = kf.max_errors(curves, together)
    assert errors == [kf.max_error(c, keep) for c, keep in zip(curves, together, strict=True)]
    assert 0 < max(errors) <= 1


def test_reduction_is_vectorised() -> None:
    n = 60_000
    times = np.arange(n) / 60.0
    values = np.stack([np.sin(times * 0.1), np.cos(times * 0.03), times * 0.01], -1)
    start = time.perf_counter()
    keep = kf.reduce([kf.Curve("translation", times, values, 1e-4)], joint=False)[0]
    assert time.perf_counter() - start < 2
    assert keep.sum() < n / 8


# -- corpus -------------------------------------------------------------------------------------


def _corpus(name: str) -> Path:
    path = CORPUS / "public" / CORPUS_MODELS[name]
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared corpus is not on this machine)")
    return path


@pytest.fixture(scope="module")
def corpus_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each corpus model through the animation pass, written without compression so that the
    validator sees every keyframe (test_meshopt checks the compressed form)."""
    if not (CORPUS / "public").is_dir():
        pytest.skip(f"{CORPUS / 'public'} is absent (the shared corpus is not on this machine)")
    folder = tmp_path_factory.mktemp("animation-corpus")
    out = {}
    for name in CORPUS_MODELS:
        src = _corpus(name)
        doc = read(src)
        animation(doc)
        out[name] = (src, folder / f"{name}.glb")
        write_glb(doc, out[name][1])
    return out


@pytest.fixture(scope="module")
def corpus_reports(corpus_outputs: dict[str, tuple[Path, Path]]) -> dict[str, list[dict]]:
    reports = validate(*[p for pair in corpus_outputs.values() for p in pair])
    return {name: reports[2 * i : 2 * i + 2] for i, name in enumerate(corpus_outputs)}


@pytest.mark.corpus
@pytest.mark.parametrize("name", list(CORPUS_MODELS))
def test_corpus_animation(name: str, corpus_outputs: dict, corpus_reports: dict) -> None:
    src, out = corpus_outputs[name]
    source, written = corpus_reports[name]
    assert new_errors(source, written) == {}, written["messages"][:3]
    before, after = read(src), read(out)
    assert_plays_the_same(before, after, track_tolerances(before, DEFAULTS))
    stored = sum(a.data.nbytes for a in after.accessors if _is_animation(after, a))
    assert stored < sum(a.data.nbytes for a in before.accessors if _is_animation(before, a))


def _is_animation(doc: Document, a: Accessor) -> bool:
    return any(s["input"] is a or s["output"] is a for anim in doc.animations for s in anim["samplers"])


@pytest.mark.corpus
def test_corpus_interpolation_test_keeps_step_and_cubic() -> None:
    src = _corpus("InterpolationTest")
    before, doc = read(src), read(src)
    animation(doc)
    for old_anim, new_anim in zip(before.animations, doc.animations, strict=True):
        old, new = old_anim["samplers"][0], new_anim["samplers"][0]
        if old.get("interpolation", "LINEAR") != "LINEAR":
            # Same keyframes; STEP rotations are stored as 16-bit integers, nothing else changes.
            assert new["interpolation"] == old["interpolation"]
            assert np.array_equal(new["input"].data, old["input"].data)
            if new["output"].data.dtype == np.float32:
                assert np.array_equal(new["output"].data, old["output"].data)
            else:
                assert (
                    new["interpolation"] == "STEP" and new_anim["channels"][0]["target"]["path"] == "rotation"
                )
                assert np.abs(new["output"].floats() - old["output"].data).max() <= 0.5 / 32767 + 1e-7
