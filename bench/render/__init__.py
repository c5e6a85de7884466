"""Rendering models in headless Chromium with three.js, for rendered-fidelity figures."""

from .renderer import BACKGROUND, Renderer, RenderResult, renderer_available

__all__ = ["BACKGROUND", "RenderResult", "Renderer", "renderer_available"]
