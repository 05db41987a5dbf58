"""What `setup` knows of the local model servers running on this machine (providers.local): they are offered, and an
entry for one gets its address and the models it lists itself. No account or key is asked for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from providers.catalog import load_catalog
from providers.local import Detected, detect
from providers.vendors import vendor_for
from server.wiring.app import http_client

#: the context window written for a local model the catalogue does not know (Ollama's and LM Studio's listings do
#: not say; edit providers.json when the model is loaded with a larger one)
LOCAL_CONTEXT_WINDOW = 8192


async def detect_local(environ: Mapping[str, str]) -> list[Detected]:
    """The local servers running now (an empty list when none answers)."""
    http = http_client(timeout_s=5.0)
    try:
        return await detect(http, environ)
    finally:
        await http.aclose()


def describe(found: Sequence[Detected]) -> list[str]:
    """One line per local server found, with its models."""
    return [
        f"Found on this machine: {d.server.label} at {d.url} with {len(d.models)} model(s)"
        + (f": {', '.join(d.models)}" if d.models else " (none pulled yet)")
        for d in found
    ]


def local_models(found: Detected) -> dict[str, Any]:
    """The `models` of a provider entry for `found`: each listed model, with a context window when the catalogue
    has none for it."""
    vendor = vendor_for(found.server.provider)
    catalog = load_catalog()
    section = vendor.catalog if vendor is not None else found.server.provider
    return {
        model: {} if catalog.get(section, model) is not None else {"contextWindow": LOCAL_CONTEXT_WINDOW}
        for model in found.models
    }


def fill_local_entry(entry: dict[str, Any], found: Detected | None) -> dict[str, Any]:
    """`entry` with the detected server's address and models, where the entry does not already say them."""
    if found is None:
        return entry
    entry.setdefault("baseUrl", found.base_url)
    if not entry.get("models") and found.models:
        entry["models"] = local_models(found)
    return entry
