"""sanitize: repairs that every run needs so the output is valid even where the input was lax.

- A texture whose core ``source`` is a KTX2, WebP or AVIF image is moved into the extension that
  allows it (KHR_texture_basisu, EXT_texture_webp, EXT_texture_avif); core sources must be PNG or JPEG.
- Empty ``extensions`` and ``extras`` containers are dropped.

Example::

    sanitize(doc, SanitizeOptions())
"""

from __future__ import annotations

from ..document import Document, Image
from ..records import dataclass

NAME = "sanitize"

EXTENSION_FOR_MIME = {
    "image/ktx2": "KHR_texture_basisu",
    "image/webp": "EXT_texture_webp",
    "image/avif": "EXT_texture_avif",
}


@dataclass(frozen=True)
class SanitizeOptions:
    pass


DEFAULTS = SanitizeOptions()


def sanitize(doc: Document, options: SanitizeOptions = DEFAULTS) -> dict:
    moved = 0
    for texture in doc.textures:
        source = texture.get("source")
        if isinstance(source, Image) and source.mime_type in EXTENSION_FOR_MIME:
            ext_name = EXTENSION_FOR_MIME[source.mime_type]
            exts = texture.setdefault("extensions", {})
            ext = exts.setdefault(ext_name, {})
            ext.setdefault("source", source)
            del texture["source"]
            doc.use_extension(ext_name, required=True)
            moved += 1
    for collection in ("nodes", "meshes", "materials", "textures", "samplers", "scenes", "skins", "cameras"):
        for obj in doc.collection(collection):
            for key in ("extensions", "extras"):
                if key in obj and obj[key] in ({}, None):
                    del obj[key]
    return {"texture sources moved to extensions": moved} if moved else {}
