"""Image tokens by each vendor's documented rule."""

from __future__ import annotations

import pytest

from providers.image_tokens import anthropic_tokens, gemini_tokens, images_tokens, openai_tokens
from providers.types import ImagePart


@pytest.mark.parametrize(
    ("width", "height", "tokens"),
    [(1024, 1024, 765), (2048, 4096, 1105), (512, 512, 255), (100, 100, 255)],
)
def test_openai_counts_85_plus_170_per_512_tile_after_scaling(width: int, height: int, tokens: int) -> None:
    assert openai_tokens(width, height) == tokens


def test_anthropic_counts_pixels_over_750_scaled_to_1568_and_capped() -> None:
    assert anthropic_tokens(1000, 1000) == 1334
    assert anthropic_tokens(200, 200) == 54
    assert anthropic_tokens(8000, 8000) == 1600


def test_gemini_counts_258_for_a_small_image_and_258_per_768_tile_otherwise() -> None:
    assert gemini_tokens(384, 384) == 258
    assert gemini_tokens(1024, 1024) == 258 * 4


def test_every_wire_gets_the_images_total() -> None:
    image = ImagePart(media_type="image/png", data="", width=1024, height=1024, sha256="h")
    assert images_tokens((image, image)) == {"openai": 1530, "anthropic": 2798, "gemini": 2064}
    assert images_tokens(()) == {}
