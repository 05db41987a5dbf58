"""What one image costs in input tokens on each wire, by each vendor's documented rule (pure).

- OpenAI (`detail: auto/high`, GPT-4o family): fit within 2048x2048, then scale the shortest side down to 768;
  85 tokens plus 170 per 512-pixel tile.
- Anthropic: an image whose long edge exceeds 1568 px is scaled down to it; tokens = width x height / 750, at
  most about 1,600 (larger images are scaled down to that).
- Gemini: an image with both sides at most 384 px costs 258 tokens; a larger one is cut into 768x768 tiles of
  258 tokens each.

An OpenAI-compatible server of another vendor gets OpenAI's rule, the closest documented one.
"""

from __future__ import annotations

import math

from providers.types import ImagePart, WireKind

OPENAI_BASE, OPENAI_TILE = 85, 170
ANTHROPIC_MAX_EDGE, ANTHROPIC_PIXELS_PER_TOKEN, ANTHROPIC_MAX_TOKENS = 1568, 750, 1600
GEMINI_TILE_TOKENS, GEMINI_SMALL, GEMINI_TILE = 258, 384, 768


def _scaled(width: int, height: int, longest: float, shortest: float | None = None) -> tuple[float, float]:
    scale = min(1.0, longest / max(width, height, 1))
    w, h = width * scale, height * scale
    if shortest is not None and min(w, h) > shortest:
        factor = shortest / min(w, h)
        w, h = w * factor, h * factor
    return w, h


def openai_tokens(width: int, height: int) -> int:
    w, h = _scaled(width, height, 2048, 768)
    return OPENAI_BASE + OPENAI_TILE * math.ceil(w / 512) * math.ceil(h / 512)


def anthropic_tokens(width: int, height: int) -> int:
    w, h = _scaled(width, height, ANTHROPIC_MAX_EDGE)
    return min(ANTHROPIC_MAX_TOKENS, math.ceil(w * h / ANTHROPIC_PIXELS_PER_TOKEN))


def gemini_tokens(width: int, height: int) -> int:
    if width <= GEMINI_SMALL and height <= GEMINI_SMALL:
        return GEMINI_TILE_TOKENS
    return GEMINI_TILE_TOKENS * math.ceil(width / GEMINI_TILE) * math.ceil(height / GEMINI_TILE)


_RULES = {"openai": openai_tokens, "anthropic": anthropic_tokens, "gemini": gemini_tokens}


def image_tokens(image: ImagePart, kind: WireKind) -> int:
    """The input tokens `image` costs on a `kind` wire."""
    return _RULES[kind](image.width, image.height)


def images_tokens(images: tuple[ImagePart, ...]) -> dict[WireKind, int]:
    """The images' total cost on each wire (empty when there are none)."""
    if not images:
        return {}
    kinds: tuple[WireKind, ...] = ("openai", "anthropic", "gemini")
    return {kind: sum(image_tokens(image, kind) for image in images) for kind in kinds}
