"""Rendering models in headless Chromium with three.js, for rendered-fidelity figures."""

from .renderer import Renderer, RenderResult, renderer_available

__all__ = ["RenderResult", "Renderer", "renderer_available"]
