"""Parameter types shared by the presets' pydantic models."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = ["ImageSize"]


def ImageSize(high: int, low: int = 64):  # noqa: N802 - a type
    """Type of an ``image_size`` field: ``(rows, cols)`` in pixels, each in ``[low, high]``.

    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(ImageSize(1024)).validate_python([256, 128])
    (256, 128)
    """

    def check(v: tuple[int, int]) -> tuple[int, int]:
        if not all(low <= n <= high for n in v):
            raise ValueError(f"image_size values must each be between {low} and {high}, got {v}")
        return v

    return Annotated[tuple[int, int], AfterValidator(check)]
