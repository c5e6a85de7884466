"""Compressed-stream attacks: EXT_meshopt_compression views and KHR_draco_mesh_compression
streams whose count, byteStride or byteLength lie, whose mode or filter is wrong, whose payload is
garbage, truncated or bit-flipped. The native decoders (meshoptimizer, Draco) run on all of it in
a process of its own, so a crash would fail the test rather than hide in it."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.support import glb, mutate, outcome, record_bounded, run_bounded, split_glb

Change = Callable[[dict], Any]


def meshopt_views(g: dict) -> list[dict]:
    return [
        v["extensions"]["EXT_meshopt_compression"]
        for v in g["bufferViews"]
        if "EXT_meshopt_compression" in v.get("extensions", {})
    ]


def first(g: dict, mode: str) -> dict:
    return next(e for e in meshopt_views(g) if e["mode"] == mode)


def bomb(g: dict, count: int) -> None:
    """A stream of a few hundred bytes that claims (consistently) to decode to count rows."""
    view = next(
        v
        for v in g["bufferViews"]
        if v.get("extensions", {}).get("EXT_meshopt_compression", {}).get("mode") == "ATTRIBUTES"
    )
    ext = view["extensions"]["EXT_meshopt_compression"]
    ext["count"] = count
    view["byteLength"] = count * ext["byteStride"]


MESHOPT: dict[str, Change] = {
    "count doubled": lambda g: first(g, "ATTRIBUTES").update(count=first(g, "ATTRIBUTES")["count"] * 2),
    "count halved": lambda g: first(g, "ATTRIBUTES").update(count=first(g, "ATTRIBUTES")["count"] // 2),
    "count 2^40": lambda g: first(g, "ATTRIBUTES").update(count=1 << 40),
    "count 2^26 (bomb)": lambda g: bomb(g, 1 << 26),
    "count zero": lambda g: first(g, "ATTRIBUTES").update(count=0),
    "triangle count not a multiple of 3": lambda g: first(g, "TRIANGLES").update(
        count=first(g, "TRIANGLES")["count"] - 1
    ),
    "byteStride 3": lambda g: first(g, "ATTRIBUTES").update(byteStride=3),
    "byteStride 0": lambda g: first(g, "ATTRIBUTES").update(byteStride=0),
    "byteStride 2^20": lambda g: first(g, "ATTRIBUTES").update(byteStride=1 << 20),
    "byteStride 8 on indices": lambda g: first(g, "TRIANGLES").update(byteStride=8),
    "byteLength past buffer": lambda g: first(g, "ATTRIBUTES").update(byteLength=1 << 30),
    "byteLength 1": lambda g: first(g, "ATTRIBUTES").update(byteLength=1),
    "byteLength short": lambda g: first(g, "TRIANGLES").update(
        byteLength=first(g, "TRIANGLES")["byteLength"] - 7
    ),
    "byteOffset past buffer": lambda g: first(g, "ATTRIBUTES").update(byteOffset=1 << 33),
    "missing buffer": lambda g: first(g, "ATTRIBUTES").update(buffer=9),
    "mode unknown": lambda g: first(g, "ATTRIBUTES").update(mode="POINTS"),
    "mode TRIANGLES on attributes": lambda g: first(g, "ATTRIBUTES").update(mode="TRIANGLES"),
    "mode ATTRIBUTES on indices": lambda g: first(g, "TRIANGLES").update(mode="ATTRIBUTES"),
    "filter unknown": lambda g: first(g, "ATTRIBUTES").update(filter="ZIP"),
    "octahedral filter on 12-byte rows": lambda g: first(g, "ATTRIBUTES").update(
        filter="OCTAHEDRAL", byteStride=12, count=96
    ),
    "quaternion filter on 4-byte rows": lambda g: first(g, "ATTRIBUTES").update(
        filter="QUATERNION", byteStride=4, count=288
    ),
    "quaternion filter on 8-byte rows": lambda g: first(g, "ATTRIBUTES").update(filter="QUATERNION"),
    "filter on indices": lambda g: first(g, "TRIANGLES").update(filter="OCTAHEDRAL"),
    "exponential filter": lambda g: first(g, "ATTRIBUTES").update(filter="EXPONENTIAL"),
    "extension not an object": lambda g: g["bufferViews"][0]["extensions"].update(EXT_meshopt_compression=3),
    "fallback buffer too short": lambda g: g["buffers"][1].update(byteLength=1 << 40),
    "fallback without the flag": lambda g: g["buffers"][1].pop("extensions"),
}


@pytest.mark.parametrize("name", list(MESHOPT))
def test_meshopt_lies(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["meshopt_rig.glb"], tmp_path / "case.glb", MESHOPT[name])
    bounded = run_bounded(case, memory_bytes=768 * 1024**2)
    result = bounded.outcome
    if name == "count 2^26 (bomb)":
        record_bounded("meshopt streams that lie", "count 2^26 (512 MB) from a 533-byte stream", bounded)
        assert result.kind == "limit-exceeded", result
    assert result.ok or result.kind in ("invalid-model", "limit-exceeded"), (name, result)
    # Valid, if odd: a different filter on rows of the size it is defined for; a fallback buffer
    # (never read) of any declared length.
    valid = ("quaternion filter on 8-byte rows", "exponential filter", "fallback buffer too short")
    if name not in valid:
        assert not result.ok, f"meshopt '{name}' was accepted"


def rewrite_view(
    src: Path, dst: Path, pick: Callable[[dict], dict], change: Callable[[bytes], bytes]
) -> Path:
    """dst: src with the bytes of one bufferView (pick(gltf) -> its JSON) replaced by change(bytes),
    the view's and buffer's lengths adjusted and every later view moved along."""
    gltf, binary = split_glb(src.read_bytes())
    view = pick(gltf)
    start = view.get("byteOffset", 0)
    end = start + view["byteLength"]
    new = change(binary[start:end])
    delta = len(new) + (-len(new) % 4) - (end - start)
    data = binary[:start] + new + b"\0" * (-len(new) % 4) + binary[end:]
    for other in gltf["bufferViews"]:
        if (
            other is not view
            and other.get("buffer", 0) == view.get("buffer", 0)
            and other.get("byteOffset", 0) >= end
        ):
            other["byteOffset"] = other.get("byteOffset", 0) + delta
    view["byteLength"] = len(new)
    gltf["buffers"][0]["byteLength"] = len(data)
    dst.write_bytes(glb(gltf, data))
    return dst


def meshopt_stream(g: dict) -> dict:
    return first(g, "ATTRIBUTES")


def draco_view(g: dict) -> dict:
    ext = g["meshes"][0]["primitives"][0]["extensions"]["KHR_draco_mesh_compression"]
    return g["bufferViews"][ext["bufferView"]]


PAYLOADS: dict[str, Callable[[bytes], bytes]] = {
    "zeros": lambda b: b"\0" * len(b),
    "random": lambda b: random.Random(5).randbytes(len(b)),
    "0xff": lambda b: b"\xff" * len(b),
    "truncated to half": lambda b: b[: len(b) // 2],
    "truncated by one": lambda b: b[:-1],
    "just the header": lambda b: b[:8],
    "doubled": lambda b: b + b,
}


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize(
    ("model", "pick"), [("meshopt_rig.glb", meshopt_stream), ("draco_box.glb", draco_view)]
)
def test_garbage_payloads(
    glbs: dict[str, Path], tmp_path: Path, payload: str, model: str, pick: Callable[[dict], dict]
) -> None:
    if model == "meshopt_rig.glb":
        # The stream's own byteLength is in the extension; keep the outer view consistent with it.
        def choose(g: dict) -> dict:
            ext = pick(g)
            view = {
                "buffer": ext["buffer"],
                "byteOffset": ext.get("byteOffset", 0),
                "byteLength": ext["byteLength"],
            }
            g["bufferViews"].append(view)
            ext["_probe"] = True
            return view

        case = rewrite_view(glbs[model], tmp_path / "case.glb", choose, PAYLOADS[payload])
        gltf, binary = split_glb(case.read_bytes())
        probe = gltf["bufferViews"].pop()
        for ext in meshopt_views(gltf):
            if ext.pop("_probe", False):
                ext["byteLength"] = probe["byteLength"]
        case.write_bytes(glb(gltf, binary))
    else:
        case = rewrite_view(glbs[model], tmp_path / "case.glb", pick, PAYLOADS[payload])
    result = run_bounded(case, memory_bytes=768 * 1024**2).outcome
    assert result.ok or result.kind in ("invalid-model", "limit-exceeded"), (model, payload, result)
    if payload not in ("doubled",):
        assert not result.ok, f"{model}: '{payload}' payload was accepted"


def test_bit_flipped_draco_streams(glbs: dict[str, Path], tmp_path: Path) -> None:
    """Twenty-four streams each with a few random bytes changed: the native decoder must not crash and
    whatever it yields must be refused or make a valid model."""
    rng = random.Random(2)
    worst = None
    for i in range(24):

        def flip(data: bytes, rng: random.Random = rng) -> bytes:
            out = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                out[rng.randrange(len(out))] = rng.randrange(256)
            return bytes(out)

        case = rewrite_view(glbs["draco_box.glb"], tmp_path / f"flip{i}.glb", draco_view, flip)
        bounded = run_bounded(case, memory_bytes=768 * 1024**2)
        result = bounded.outcome
        assert result.ok or result.kind in ("invalid-model", "limit-exceeded"), (i, result)
        if worst is None or bounded.peak_rss_mb > worst.peak_rss_mb:
            worst = bounded
    assert worst is not None
    record_bounded("Draco streams that lie", "24 bit-flipped streams (worst)", worst)


DRACO: dict[str, Change] = {
    "attribute id missing": lambda g: g["meshes"][0]["primitives"][0]["extensions"][
        "KHR_draco_mesh_compression"
    ]["attributes"].update(POSITION=99),
    "attribute id negative": lambda g: g["meshes"][0]["primitives"][0]["extensions"][
        "KHR_draco_mesh_compression"
    ]["attributes"].update(POSITION=-1),
    "no attributes": lambda g: g["meshes"][0]["primitives"][0]["extensions"][
        "KHR_draco_mesh_compression"
    ].update(attributes={}),
    "bufferView missing": lambda g: g["meshes"][0]["primitives"][0]["extensions"][
        "KHR_draco_mesh_compression"
    ].update(bufferView=50),
    "accessor count lies": lambda g: g["accessors"][
        g["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    ].update(count=5),
    "accessor type lies": lambda g: g["accessors"][
        g["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    ].update(type="VEC2"),
    "maps an attribute the primitive lacks": lambda g: g["meshes"][0]["primitives"][0]["extensions"][
        "KHR_draco_mesh_compression"
    ]["attributes"].update(COLOR_0=0),
    "same id for two attributes": lambda g: g["meshes"][0]["primitives"][0]["extensions"][
        "KHR_draco_mesh_compression"
    ]["attributes"].update(NORMAL=0, TEXCOORD_0=0),
}


@pytest.mark.parametrize("name", list(DRACO))
def test_draco_lies(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["draco_box.glb"], tmp_path / "case.glb", DRACO[name])
    result = run_bounded(case, memory_bytes=768 * 1024**2).outcome
    assert result.ok or result.kind == "invalid-model", (name, result)
    if name != "accessor count lies":
        assert not result.ok, f"draco '{name}' was accepted"


def test_draco_streams_shared_by_many_primitives_are_bounded(glbs: dict[str, Path], tmp_path: Path) -> None:
    """One stream referenced by 2000 primitives (each would be decoded and copied)."""

    def share(g: dict) -> None:
        prim = g["meshes"][0]["primitives"][0]
        g["meshes"][0]["primitives"] = [dict(prim, material=prim.get("material", 0)) for _ in range(2000)]

    case = mutate(glbs["draco_box.glb"], tmp_path / "case.glb", share)
    bounded = run_bounded(case, memory_bytes=768 * 1024**2)
    record_bounded("Draco streams that lie", "one stream shared by 2000 primitives", bounded)
    assert bounded.outcome.ok or bounded.outcome.kind in ("invalid-model", "limit-exceeded"), bounded
    assert outcome is not None
