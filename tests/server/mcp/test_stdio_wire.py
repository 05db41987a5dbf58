"""The stdio wire (server.mcp.stdio) over real pipes: lines in however the bytes arrive, whole lines out."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp.shared.message import SessionMessage

from server.mcp.stdio import wire_streams

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="the loop polls descriptors on POSIX only"),
]


def _request(request_id: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "ping"}).encode()


async def test_lines_split_across_reads_and_a_last_line_without_its_newline_each_arrive_whole() -> None:
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    async with wire_streams(stdin_r, stdout_w) as (read_stream, _):
        whole = _request(1) + b"\n" + _request(2) + b"\nnot json\n" + _request(3)
        os.write(stdin_w, whole[:7])
        await anyio.sleep(0.01)
        os.write(stdin_w, whole[7:])
        os.close(stdin_w)
        received = [item async for item in read_stream]
    for fd in (stdin_r, stdout_r, stdout_w):
        os.close(fd)
    ids = [item.message.id for item in received if isinstance(item, SessionMessage)]  # type: ignore[union-attr]
    assert ids == [1, 2, 3]
    assert sum(isinstance(item, Exception) for item in received) == 1


async def test_a_message_longer_than_the_pipe_takes_at_once_is_written_whole_as_one_line() -> None:
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    text = "x" * 300_000  # more than a pipe holds: the writer waits for the reader
    response = types.JSONRPCResponse(jsonrpc="2.0", id=7, result={"text": text})
    chunks: list[bytes] = []

    async def drain() -> None:
        while chunk := await anyio.to_thread.run_sync(os.read, stdout_r, 1 << 16):
            chunks.append(chunk)

    async with anyio.create_task_group() as group:
        group.start_soon(drain)
        async with wire_streams(stdin_r, stdout_w) as (_, write_stream):
            await write_stream.send(SessionMessage(response))
            await write_stream.send(SessionMessage(response))
        os.close(stdout_w)
    for fd in (stdin_r, stdin_w, stdout_r):
        os.close(fd)
    lines = b"".join(chunks).split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(line)["result"]["text"] == text for line in lines[:-1]] == [True, True]


async def test_a_regular_file_as_stdin_is_read_to_its_end(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(_request(1) + b"\n" + _request(2) + b"\n")
    stdout_r, stdout_w = os.pipe()
    fd = os.open(requests, os.O_RDONLY)
    async with wire_streams(fd, stdout_w) as (read_stream, _):
        received = [item async for item in read_stream]
    for each in (fd, stdout_r, stdout_w):
        os.close(each)
    assert [item.message.id for item in received if isinstance(item, SessionMessage)] == [1, 2]  # type: ignore[union-attr]


async def test_a_closed_reader_makes_the_write_stream_broken_not_a_crash() -> None:
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    os.close(stdout_r)
    response = types.JSONRPCResponse(jsonrpc="2.0", id=1, result={})
    async with wire_streams(stdin_r, stdout_w) as (_, write_stream):
        with pytest.raises(anyio.BrokenResourceError):
            await write_stream.send(SessionMessage(response))
    for fd in (stdin_r, stdin_w, stdout_w):
        os.close(fd)


async def test_a_line_longer_than_many_reads_arrives_whole() -> None:
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    request = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"name": "x", "arguments": {"p": "y" * 2_000_000}},
    }
    line = json.dumps(request).encode() + b"\n"

    def feed() -> None:
        os.write(stdin_w, line)
        os.close(stdin_w)

    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, feed)
        async with wire_streams(stdin_r, stdout_w) as (read_stream, _):
            received = [item async for item in read_stream]
    for fd in (stdin_r, stdout_r, stdout_w):
        os.close(fd)
    assert len(received) == 1 and isinstance(received[0], SessionMessage)
    assert received[0].message.params["arguments"]["p"] == "y" * 2_000_000  # type: ignore[union-attr, index]
