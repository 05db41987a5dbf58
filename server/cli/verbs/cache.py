"""`cache stats|clear`: the response cache, through the same view and action as every other surface."""

from __future__ import annotations

import argparse

from server.actions import clear_cache
from server.cli.common import cli_app, emit_json, run, say
from server.views import cache_report


def cache(args: argparse.Namespace) -> int:
    """`cache stats|clear [--json]`."""
    if args.action == "clear":
        return run(lambda: _clear(as_json=args.json))
    return run(lambda: _stats(as_json=args.json))


async def _stats(*, as_json: bool) -> int:
    async with cli_app() as app:
        report = await cache_report(app)
    if as_json:
        emit_json(report)
        return 0
    size = f"{report.bytes / 1024 / 1024:.2f} of {report.max_bytes / 1024 / 1024:.0f} MB"
    say(f"{report.entries} cached answer(s), {size}")
    say(f"{report.hits} hit(s) saved {report.tokens_saved:,} tokens and ${report.dollars_saved:.4f}")
    prompt = report.prompt_cache
    say(
        f"provider prompt caches: {prompt.hits} of {prompt.calls} call(s) read a cached prefix "
        f"({prompt.hit_rate:.0%}); "
        f"{prompt.read_tokens:,} tokens read, {prompt.write_tokens:,} written; ${prompt.dollars_saved:.4f} saved"
    )
    return 0


async def _clear(*, as_json: bool) -> int:
    async with cli_app() as app:
        result = await clear_cache(app)
    if as_json:
        emit_json(result)
        return 0
    say(f"response cache cleared ({result.cleared} answer(s))")
    return 0
