"""Where the bench finds its tools and the corpus."""

from __future__ import annotations

from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TOOLS = BENCH / "tools"
NODE_MODULES = TOOLS / "node_modules"
NODE_BIN = NODE_MODULES / ".bin"
THREE = NODE_MODULES / "three"
NATIVE_GLTFPACK = TOOLS / "python" / "dsts_extractor_gltfpack" / "_binary" / "gltfpack"
CHROMIUM = Path("/usr/bin/chromium")
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "public"
DEFAULT_OUT = BENCH / "out"
