"""Which material slots use each texture, and so how carefully each image must be encoded.

Every textureInfo a material holds (core slots and KHR_materials_* alike: a key ending in
"Texture") is a use. A slot decides the texture's class (colour, normal or data), whether its
values are sRGB, and which channels a renderer reads: occlusion reads R, metallicRoughness G and B,
baseColor's alpha only when the material blends or masks. An image used by several slots takes the
strictest class (normal > data > colour) and the union of their channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..document import Document, Image

COLOR, NORMAL, DATA = "color", "normal", "data"
STRICTNESS = {COLOR: 0, DATA: 1, NORMAL: 2}
RGB, RGBA = (0, 1, 2), (0, 1, 2, 3)
IMAGE_EXTENSIONS = ("EXT_texture_webp", "EXT_texture_avif", "KHR_texture_basisu")
CORE_MIME = ("image/png", "image/jpeg")


@dataclass(frozen=True)
class Slot:
    kind: str
    srgb: bool
    channels: tuple[int, ...]


# textureInfo key -> how the renderer reads it (glTF 2.0 and the KHR_materials_* specifications).
SLOTS: dict[str, Slot] = {
    "baseColorTexture": Slot(COLOR, True, RGBA),
    "emissiveTexture": Slot(COLOR, True, RGB),
    "normalTexture": Slot(NORMAL, False, RGB),
    "occlusionTexture": Slot(DATA, False, (0,)),
    "metallicRoughnessTexture": Slot(DATA, False, (1, 2)),
    "clearcoatTexture": Slot(DATA, False, (0,)),
    "clearcoatRoughnessTexture": Slot(DATA, False, (1,)),
    "clearcoatNormalTexture": Slot(NORMAL, False, RGB),
    "sheenColorTexture": Slot(COLOR, True, RGB),
    "sheenRoughnessTexture": Slot(DATA, False, (3,)),
    "transmissionTexture": Slot(DATA, False, (0,)),
    "thicknessTexture": Slot(DATA, False, (1,)),
    "specularTexture": Slot(DATA, False, (3,)),
    "specularColorTexture": Slot(COLOR, True, RGB),
    "iridescenceTexture": Slot(DATA, False, (0,)),
    "iridescenceThicknessTexture": Slot(DATA, False, (1,)),
    "anisotropyTexture": Slot(NORMAL, False, RGB),
    "diffuseTransmissionTexture": Slot(DATA, False, (3,)),
    "diffuseTransmissionColorTexture": Slot(COLOR, True, RGB),
    "diffuseTexture": Slot(COLOR, True, RGBA),
    "specularGlossinessTexture": Slot(DATA, True, RGBA),
}
UNKNOWN = Slot(DATA, False, RGBA)
"""A slot this table does not know: linear, every channel, encoded as carefully as data."""
ALPHA_BY_MODE = ("baseColorTexture", "diffuseTexture")
"""Slots whose alpha only matters when the material's alphaMode is BLEND or MASK."""
ROUGH = 0.5
"""Roughness from which a surface's highlights are broad (GGX's lobe at 0.5 spans tens of
degrees), so a normal map's errors of a few degrees do not show in them; on a glossy surface they
bend every reflection (SpherePbrNext's clearcoat, roughness 0.03)."""
GLOSS_EXTENSIONS = (
    "KHR_materials_anisotropy",
    "KHR_materials_iridescence",
    "KHR_materials_pbrSpecularGlossiness",
)
"""Material extensions whose look depends on the normal more finely than roughness says (a
stretched highlight, a thin film's colour by angle, roughness given as a glossiness map)."""


@dataclass
class Use:
    """One textureInfo: the material, the dict that holds the slot, and the slot's key."""

    material: dict
    holder: dict
    key: str

    @property
    def info(self) -> dict:
        return self.holder[self.key]

    @property
    def texture(self) -> Any:
        return self.info.get("index")

    @property
    def slot(self) -> Slot:
        base = SLOTS.get(self.key, UNKNOWN)
        if self.key in ALPHA_BY_MODE and self.material.get("alphaMode", "OPAQUE") == "OPAQUE":
            return Slot(base.kind, base.srgb, RGB)
        return base


@dataclass
class ImageUse:
    """Everything that reads one image through textures."""

    image: Image
    uses: list[Use] = field(default_factory=list)
    textures: list[dict] = field(default_factory=list)
    animated: bool = False
    """Some material that reads it is animated (KHR_animation_pointer): its factors may change."""

    @property
    def kind(self) -> str:
        return max((u.slot.kind for u in self.uses), key=STRICTNESS.__getitem__, default=DATA)

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(sorted({c for u in self.uses for c in u.slot.channels}))

    @property
    def srgb(self) -> bool | None:
        """True if every use reads sRGB, False if every use is linear, None if they disagree."""
        values = {u.slot.srgb for u in self.uses}
        return values.pop() if len(values) == 1 else None

    @property
    def slots(self) -> list[str]:
        return list(dict.fromkeys(u.key for u in self.uses))

    @property
    def rough(self) -> bool:
        """True if the image is only ever a material's normalTexture and every such material is
        rough all over (see ROUGH: its roughnessFactor, with no roughness texture that could
        make parts of it glossy) and stays so (not animated)."""
        if self.animated or not self.uses:
            return False
        return all(u.key == "normalTexture" and _rough(u.material) for u in self.uses)


def _rough(material: dict) -> bool:
    pbr = material.get("pbrMetallicRoughness")
    pbr = pbr if isinstance(pbr, dict) else {}
    extensions = material.get("extensions")
    extensions = extensions if isinstance(extensions, dict) else {}
    factor = pbr.get("roughnessFactor", 1)
    return (
        isinstance(factor, int | float)
        and factor >= ROUGH
        and "metallicRoughnessTexture" not in pbr
        and not any(name in extensions for name in GLOSS_EXTENSIONS)
    )


def material_uses(material: dict) -> Iterator[Use]:
    """Every textureInfo of a material, in the order its JSON lists them."""
    stack: list[dict] = [material]
    while stack:
        holder = stack.pop(0)
        for key, value in holder.items():
            if not isinstance(value, dict):
                continue
            if key.endswith("Texture") and isinstance(value.get("index"), dict):
                yield Use(material, holder, key)
            else:
                stack.append(value)


def texture_images(texture: dict) -> list[Image]:
    """The images a texture holds: its core source, then its extensions' sources."""
    found = []
    if isinstance(texture.get("source"), Image):
        found.append(texture["source"])
    for name in IMAGE_EXTENSIONS:
        ext = texture.get("extensions", {}).get(name)
        if isinstance(ext, dict) and isinstance(ext.get("source"), Image):
            found.append(ext["source"])
    return found


def reference_image(texture: dict) -> Image | None:
    """The image a texture's pixels are taken from: a PNG or JPEG (usually the original, where a
    WebP or KTX2 copy sits beside it as an extension), else the first other image it holds."""
    images = texture_images(texture)
    core = [im for im in images if im.mime_type in CORE_MIME]
    return (core or images or [None])[0]


def image_uses(doc: Document) -> list[ImageUse]:
    """One entry per reference image that materials read through textures, in the order of
    doc.images; each lists the textures that take their pixels from it and every slot they fill."""
    by_texture: dict[int, list[Use]] = {}
    for material in doc.materials:
        for use in material_uses(material):
            by_texture.setdefault(id(use.texture), []).append(use)
    entries: dict[int, ImageUse] = {}
    for texture in doc.textures:
        uses = by_texture.get(id(texture), [])
        image = reference_image(texture)
        if not uses or image is None:
            continue
        entry = entries.setdefault(id(image), ImageUse(image))
        entry.uses.extend(uses)
        entry.textures.append(texture)
    return [entries[id(image)] for image in doc.images if id(image) in entries]
