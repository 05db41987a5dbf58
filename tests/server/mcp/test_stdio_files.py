"""Files and images by path, from outside: a real `provider-router serve` over stdio, an MCP client declaring its
roots, a real temporary workspace, and the loopback simulator receiving what the server read."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import stdio_client
from mcp.types import ErrorData, ListRootsResult, Root

from providers.simulator import Simulator
from tests.clock import FixedClock, moved_clock_environ
from tests.harness import SIM_KEY, simulated_home
from tests.server.mcp_support import read_json, text_of

pytestmark = pytest.mark.anyio

EXE = Path(sys.executable).with_name("provider-router")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + b"\x08\x02" * 8


@asynccontextmanager
async def serve(home: Path, errlog: TextIO, roots: list[Path], cwd: Path) -> AsyncIterator[Client]:
    """`provider-router serve` in a subprocess started in `cwd`, with a client whose roots are `roots` (mutable)."""
    params = StdioServerParameters(
        command=str(EXE),
        args=["serve"],
        env={"PROVIDER_ROUTER_HOME": str(home), "SIM_KEY": SIM_KEY, **moved_clock_environ()},
        cwd=cwd,
    )

    async def list_roots(context: ClientRequestContext) -> ListRootsResult | ErrorData:
        return ListRootsResult(roots=[Root(uri=root.as_uri(), name=root.name) for root in roots])

    async with Client(stdio_client(params, errlog=errlog), list_roots_callback=list_roots) as client:
        yield client


def received(sim: Simulator) -> list[str]:
    """The JSON bodies every simulated account received, as text."""
    return [json.dumps(r.body) for account in sim.spec.accounts for r in sim.requests(account.id)]


def workspace(tmp_path: Path) -> tuple[Path, Path, str]:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "src").mkdir(parents=True)
    outside.mkdir()
    body = "".join(f"def step_{n}(value: int) -> int:\n    return value + {n}\n\n" for n in range(600))
    (root / "src" / "big.py").write_text(body + "# </file> ends nothing\nMARKER_END = 1\n")
    (root / ".env").write_text("API_TOKEN=do-not-send\n")
    (root / "blob.dat").write_bytes(b"\x00\x01\x02binary")
    (outside / "secret.txt").write_text("OUTSIDE_CONTENT\n")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "shot.png").write_bytes(PNG)
    return root, outside, body


async def test_over_stdio_the_server_reads_files_inside_the_roots_and_refuses_escapes_secrets_and_binaries(
    tmp_path: Path,
) -> None:
    root, outside, body = workspace(tmp_path)
    home = tmp_path / "home"
    roots = [root]
    with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(60):
        async with simulated_home(home, FixedClock()) as (sim, _paths), serve(home, errlog, roots, tmp_path) as client:
            arguments = {"prompt": "Summarise this module", "files": ["src/big.py"], "task_type": "simple"}
            read = await client.call_tool("route_and_complete", arguments)
            logged = await read_json(client, "router://decisions")
            sent = received(sim)
            refused = {
                name: await client.call_tool("route_and_complete", {"prompt": "Summarise", "files": [name]})
                for name in ("../outside/secret.txt", "link.txt", ".env", "blob.dat", str(outside / "secret.txt"))
            }
            look = {"prompt": "Describe the screenshot", "images": ["shot.png"]}
            dry = await client.call_tool("route_and_complete", {**look, "dry_run": True})
            seen = await client.call_tool("route_and_complete", look)
            roots[:] = [outside]  # the client's workspace changes, and it says so
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await client.send_roots_list_changed()
            moved = await client.call_tool(
                "route_and_complete", {"prompt": "Summarise", "files": [str(outside / "secret.txt")]}
            )
    assert not read.is_error, text_of(read)
    out = read.structured_content
    assert out is not None
    assert [f["path"] for f in out["files"]] == ["src/big.py"]
    assert out["files"][0]["tokens"] > 5_000
    summary = logged["decisions"][0]["task_summary"]
    assert f"files src/big.py (~{out['files'][0]['tokens']:,} tokens)" in summary
    estimate = re.search(r"~([\d,]+) input tokens", summary)
    assert estimate and int(estimate[1].replace(",", "")) > out["files"][0]["tokens"]  # the window filter counts it
    assert any("def step_599" in text and "MARKER_END" in text for text in sent)
    assert any("<\\\\/file> ends nothing" in text for text in sent)  # escaped inside its block
    # the agent wrote ~90 bytes for a ~30 KB file
    assert len(json.dumps(arguments)) < 120 < len(body) // 100
    for name, result in refused.items():
        assert result.is_error, name
    assert "outside the workspace" in text_of(refused["../outside/secret.txt"])
    assert str(root) in text_of(refused["../outside/secret.txt"])
    assert "through a symlink" in text_of(refused["link.txt"]) and str(root) in text_of(refused["link.txt"])
    assert "looks like a secret" in text_of(refused[".env"])
    assert "binary" in text_of(refused["blob.dat"])
    assert "outside the workspace" in text_of(refused[str(outside / "secret.txt")])
    assert not any("do-not-send" in text or "OUTSIDE_CONTENT" in text for text in sent)
    assert dry.structured_content is not None and not seen.is_error, text_of(seen)
    lacking = [e for e in dry.structured_content["excluded"] if e["filter"] == "capability"]
    assert lacking and all("vision" in e["detail"] for e in lacking)  # GLM and Kimi read no images
    assert seen.structured_content is not None and seen.structured_content["provider"] not in ("zai", "kimi")
    encoded = base64.b64encode(PNG).decode()
    assert any(encoded in text for text in received(sim))
    stored = b"".join(path.read_bytes() for path in home.glob("router.db*"))
    assert encoded.encode() not in stored  # the conversation keeps a reference, not the image
    assert b"shot.png: image/png 640x480" in stored
    assert not moved.is_error, text_of(moved)
    assert any("OUTSIDE_CONTENT" in text for text in received(sim))


async def test_over_stdio_without_roots_the_servers_working_directory_is_the_workspace(tmp_path: Path) -> None:
    root, _outside, _body = workspace(tmp_path)
    home = tmp_path / "home"
    params = StdioServerParameters(
        command=str(EXE),
        args=["serve"],
        env={"PROVIDER_ROUTER_HOME": str(home), "SIM_KEY": SIM_KEY, **moved_clock_environ()},
        cwd=root,
    )
    with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(60):
        async with simulated_home(home, FixedClock()) as (sim, _paths), Client(stdio_client(params, errlog)) as client:
            inside = await client.call_tool("route_and_complete", {"prompt": "Summarise", "files": ["src/*.py"]})
            out = await client.call_tool("route_and_complete", {"prompt": "Hi", "files": ["../outside/secret.txt"]})
    assert not inside.is_error, text_of(inside)
    assert any("MARKER_END" in text for text in received(sim))
    assert out.is_error and f"{root} (the server's working directory" in text_of(out)
    assert os.path.basename(str(root)) == "ws"
