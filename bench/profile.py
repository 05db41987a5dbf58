"""Placeholder."""

from __future__ import annotations

from bench.common import Options, Section


async def run(options: Options) -> Section:
    return Section("profile", "profile")
