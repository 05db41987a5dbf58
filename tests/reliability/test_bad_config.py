"""Bad providers.json at the boundary: `load_config` on random files and on random mutations of a good one, and
the MCP server started on them. Always a configuration or a `ConfigError` naming the file, the place and the fix;
the server always starts, says what to fix, and never echoes a key or a traceback."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from providers.simulator import Simulator
from server.config.load import ConfigError, RouterConfig, load_config, redacted_view
from tests.clock import FIXED_NOW, fixed_epoch
from tests.harness import ENV
from tests.reliability import tally
from tests.reliability.support import live, matrix_accounts, matrix_config, text_of
from tests.reliability.test_bad_input import HOSTILE, JSON_VALUES

#: key-shaped literals: a config holding one must be refused without echoing it
LITERAL_KEYS = [
    "sk-proj-Abcdefghijklmnop0123456789",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOp",
]
EXTREMES = [0, -1, 1e308, -1e308, 10**30, 2**63, 2**64, 1e-320, 0.5, 10**12 + 1, 1e9 + 1]
VALUES = st.one_of(JSON_VALUES, st.sampled_from(HOSTILE + LITERAL_KEYS), st.sampled_from(EXTREMES))


class _Fake:
    """Stands in for the simulator when only the URLs of the config matter."""

    def base_url(self, account: str) -> str:
        return f"http://127.0.0.1:9/{account}/v1"


BASE: dict[str, Any] = matrix_config(_Fake(), settings={"requestTimeoutS": 5, "retentionDays": 3})  # type: ignore[arg-type]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


PATHS = [path for path in _paths(BASE) if path]


def _mutate(config: dict[str, Any], path: tuple[Any, ...], how: str, value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(config)
    parent: Any = mutated
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "delete" and isinstance(parent, dict):
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[str(value)[:20]] = value
    else:
        parent[last] = value
    return mutated


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "add"]), VALUES), min_size=1, max_size=3
)


def _mutated(mutations: list[tuple[tuple[Any, ...], str, Any]]) -> dict[str, Any]:
    config = BASE
    for path, how, value in mutations:
        try:
            config = _mutate(config, path, how, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or reshaped the place
    return config


def _check_load(path: Path) -> RouterConfig | ConfigError:
    """load_config's answer: the config (its redacted view serialisable) or a ConfigError; nothing else, no key."""
    try:
        config = load_config(path, ENV, today=FIXED_NOW.date())
    except ConfigError as error:
        message = str(error)
        assert message.startswith(str(path)) and "Fix: " in message, message[:500]
        assert len(message) < 2_000 and not any(key in message for key in LITERAL_KEYS), message[:500]
        return error
    shown = json.dumps(redacted_view(config))
    assert not any(key in shown for key in LITERAL_KEYS)
    return config


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(mutations=MUTATIONS)
@example(mutations=[(("providers", "backup", "kind"), "replace", "é" * 5000)])  # was echoed whole (5,155 chars)
def test_random_mutations_of_a_good_file_load_or_name_the_place_and_the_fix(
    tmp_path_factory: pytest.TempPathFactory, mutations: list[tuple[tuple[Any, ...], str, Any]]
) -> None:
    path = tmp_path_factory.mktemp("mutated") / "providers.json"
    path.write_text(json.dumps(_mutated(mutations), default=str))
    _check_load(path)
    tally.record("inputs", test="config mutation")


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_random_bytes_load_or_name_the_fix(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    path = tmp_path_factory.mktemp("random") / "providers.json"
    path.write_bytes(content)
    _check_load(path)
    tally.record("inputs", test="config bytes")


PATHOLOGICAL = {
    "deep list": "[" * 100_000,
    "deep object": '{"a":' * 50_000,
    "long number": '{"settings": {"retentionDays": ' + "9" * 5000 + "}}",
    "overflowing float": '{"settings": {"requestTimeoutS": 1e99999}}',
    "NaN": '{"settings": {"requestTimeoutS": NaN}}',
    "Infinity": '{"preferences": {"budgetUsd": {"daily": Infinity}}}',
    "huge retention": '{"settings": {"retentionDays": 1000000000000000000000}}',
    "huge budget": '{"preferences": {"budgetUsd": {"daily": 1e308}}}',
    "huge quota": '{"providers": {"openai": {"apiKey": "${K}", "quota": {"requestsPerDay": 1e30}}}}',
    "huge price": '{"providers": {"openai": {"apiKey": "${K}", "models": {"gpt-5.2": {"inputCostPer1M": 1e300}}}}}',
    "huge window": '{"providers": {"openai": {"apiKey": "${K}", "models": {"gpt-5.2": {"contextWindow": 1e300}}}}}',
    "deadline past the reservation": '{"settings": {"deadlineS": 3600}}',
    "traversing time zone": '{"settings": {"timezone": "../../../../etc/passwd"}}',
    "absolute time zone": '{"settings": {"timezone": "/usr/share/zoneinfo/UTC"}}',
    "NUL time zone": '{"settings": {"timezone": "\\u0000"}}',
    "file base URL": '{"providers": {"x": {"kind": "openai", "baseUrl": "file:///etc/passwd", "models": {}}}}',
    "huge env name": '{"providers": {"openai": {"baseUrl": "${' + "A" * 10_000 + '}"}}}',
    "literal key": '{"providers": {"openai": {"apiKey": "' + LITERAL_KEYS[0] + '"}}}',
    "literal key in an account": '{"providers": {"google": {"accounts": [{"id": "g", "apiKey": "'
    + LITERAL_KEYS[2]
    + '"}]}}}',
    "UTF-16": '{"providers": {}}'.encode("utf-16").decode("latin-1"),
    "a NUL byte": '{"providers": {}}\x00',
}


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_files_are_config_errors_naming_the_fix(tmp_path: Path, text: str) -> None:
    path = tmp_path / "providers.json"
    path.write_text(text, encoding="latin-1" if text.startswith("\xff\xfe") else "utf-8")
    assert isinstance(_check_load(path), ConfigError)
    tally.record("inputs", test="config pathological")


def test_a_directory_or_a_dangling_link_in_place_of_the_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "providers.json").mkdir()
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "providers.json").symlink_to(tmp_path / "link" / "providers.json")
    for home in ("dir", "link"):
        assert isinstance(_check_load(tmp_path / home / "providers.json"), ConfigError)
    tally.record("inputs", 2, test="config not a file")


# --- the server on random configurations ----------------------------------------------------------------------


@asynccontextmanager
async def _simulator() -> AsyncIterator[Simulator]:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        yield sim


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BlockingPortal, Simulator, Path]]:
    with start_blocking_portal("asyncio") as portal, portal.wrap_async_context_manager(_simulator()) as sim:
        yield portal, sim, tmp_path_factory.mktemp("served")


async def _serve_once(home: Path, sim: Simulator, config: dict[str, Any]) -> list[str]:
    """Start a server on `config`; ask for status, quotas, a dry run and a call; return every text it answered."""
    texts: list[str] = []
    async with live(home, sim, json.dumps(config, default=str)) as s:
        for tool, arguments in (
            ("provider_status", {}),
            ("quota_report", {}),
            ("route_and_complete", {"prompt": "Say hi", "dry_run": True}),
            ("route_and_complete", {"prompt": "Say hi"}),
        ):
            result = await s.call(tool, **arguments)
            text = text_of(result)
            assert "Traceback" not in text and 'File "' not in text, text[:500]
            assert not result.is_error or (text.strip() and len(text) < 20_000), text[:500]
            texts.append(text)
        status = (await s.call("provider_status")).structured_content or {}
        texts.append(json.dumps(status) + json.dumps(await s.read("router://config")))
    return texts


def test_the_server_starts_on_random_configurations_and_answers_every_tool_clearly(
    served: tuple[BlockingPortal, Simulator, Path],
) -> None:
    portal, sim, root = served
    base = matrix_config(sim, settings={"requestTimeoutS": 5})
    tried = 0

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(mutations=MUTATIONS)
    def check(mutations: list[tuple[tuple[Any, ...], str, Any]]) -> None:
        nonlocal tried
        tried += 1
        config = json.loads(json.dumps(_mutated(mutations), default=str).replace("http://127.0.0.1:9", sim.url))
        config["providers"] = config.get("providers", base["providers"]) if isinstance(config, dict) else None
        texts = portal.call(_serve_once, root / f"home-{tried}", sim, config)
        assert not any(key in text for key in LITERAL_KEYS for text in texts)

    check()
    tally.record("inputs", tried, test="server on random configs")
