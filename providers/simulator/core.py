"""The simulator: a loopback HTTP server speaking the OpenAI, Anthropic and Gemini wires for scripted accounts."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import Listener, SocketAttribute, SocketStream, TaskGroup

from providers.simulator.answers import (
    Answer,
    StreamPlan,
    anthropic_json,
    anthropic_stream,
    gemini_json,
    gemini_stream,
    openai_json,
    openai_stream,
)
from providers.simulator.calls import Call, estimate_tokens, parse_call, parse_json
from providers.simulator.control import control_response
from providers.simulator.faults import JSON_TYPE, ErrorContext, error_response, stream_error_frame
from providers.simulator.hostile import INF_HEADERS, hostile_answer, huge_error_response
from providers.simulator.httpserver import Action, HttpRequest, Response, StreamResponse, serve_connection
from providers.simulator.limits import RequestWindow, WindowState, ratelimit_headers
from providers.simulator.promptcache import PromptCache
from providers.simulator.routes import Route, match_route, models_response, not_found
from providers.simulator.spec import (
    FAULTS,
    HOSTILE_FAULTS,
    AccountStats,
    AnyFault,
    Fault,
    HostileFault,
    SimAccount,
    SimRequest,
    SimSpec,
)

_REDACTED_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie"})
_STREAM_FAULTS = frozenset({"error_in_stream", "truncated_stream"})
_HOSTILE: dict[str, HostileFault] = {fault: fault for fault in HOSTILE_FAULTS}
_PLAIN: dict[str, Fault] = {fault: fault for fault in FAULTS}
_MALFORMED_BODY = b'<html><body>upstream hiccup</body></html>\n{"id": "chatcmpl-'
_PROMPT_WORDS = 12
#: the header that carries a request id, per flavour (Google sends none)
_REQUEST_ID_HEADER = {"openai": "x-request-id", "anthropic": "request-id"}


@dataclass
class _AccountState:
    spec: SimAccount
    log: deque[SimRequest]
    script: deque[AnyFault | None] = field(default_factory=deque)
    down: AnyFault | None = None
    requests: int = 0
    succeeded: int = 0
    window: RequestWindow | None = None

    def __post_init__(self) -> None:
        self.window = RequestWindow(self.spec.rpm) if self.spec.rpm else None


def _redact(headers: dict[str, str]) -> dict[str, str]:
    return {name: ("REDACTED" if name in _REDACTED_HEADERS else value) for name, value in headers.items()}


def _redact_query(query: str) -> str:
    return "&".join("key=REDACTED" if part.startswith("key=") else part for part in query.split("&")) if query else ""


def _key_matches(spec: SimAccount, request: HttpRequest) -> bool:
    headers = request.headers
    if spec.kind == "anthropic":
        return headers.get("x-api-key") == spec.api_key
    if spec.kind == "gemini":
        return headers.get("x-goog-api-key") == spec.api_key or f"key={spec.api_key}" in request.query.split("&")
    return headers.get("authorization") == f"Bearer {spec.api_key}"


def profile_times(spec: SimAccount, output_tokens: int, request_id: str) -> tuple[float, float]:
    """An answer's time to first token and generation time in seconds under the account's latency profile
    (the jitter is drawn from the request id, so a run repeats)."""
    if not spec.ttft_ms and spec.tokens_per_s is None:
        return 0.0, 0.0
    factor = spec.slowdown * (1.0 + spec.jitter * random.Random(f"{spec.id}:{request_id}").uniform(-1.0, 1.0))
    generation = output_tokens / spec.tokens_per_s if spec.tokens_per_s else 0.0
    return spec.ttft_ms / 1000 * factor, generation * factor


class Simulator:
    """A loopback server for scripted provider accounts, started and stopped by its caller.

    Use as `async with Simulator(spec) as sim:`; it listens on 127.0.0.1 (a free port unless `port` is given)
    inside the caller's event loop and stops, cancelling hung requests, when the block ends. `clock` (epoch
    seconds) drives rate-limit windows and reset headers, so tests can move time; `pace` spends the time of an
    account's latency profile (tests pass one that moves their clock: `FixedClock.pace`). `max_log` bounds the requests
    remembered per account (counters are exact regardless).
    """

    def __init__(
        self,
        spec: SimSpec | Iterable[SimAccount],
        *,
        clock: Callable[[], float],
        port: int = 0,
        max_log: int = 10_000,
        pace: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.spec = spec if isinstance(spec, SimSpec) else SimSpec(accounts=tuple(spec))
        self._requested_port = port
        self._clock = clock
        self._pace = pace
        self._accounts = {account.id: _AccountState(account, deque(maxlen=max_log)) for account in self.spec.accounts}
        self._prompt_caches = {account.id: PromptCache() for account in self.spec.accounts}
        self._seq = 0
        self._listener: Listener[SocketStream] | None = None
        self._task_group: TaskGroup | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Simulator:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self._requested_port)
        self.port = int(listener.extra(SocketAttribute.local_port))
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._listener, self._task_group = listener, task_group
        task_group.start_soon(listener.serve, self._serve_connection)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task_group is not None and self._listener is not None, "the simulator was not started"
        self._task_group.cancel_scope.cancel()
        try:
            await self._task_group.__aexit__(None, None, None)
        finally:
            await self._listener.aclose()
            self._task_group = self._listener = None

    async def _serve_connection(self, stream: SocketStream) -> None:
        await serve_connection(stream, self._handle)

    # --- addressing -----------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root, e.g. `http://127.0.0.1:54321`."""
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, account_id: str) -> str:
        """What a provider's `baseUrl` should be to reach this account, per its wire kind."""
        kind = self._state(account_id).spec.kind
        suffix = {"openai": "/v1", "anthropic": "", "gemini": "/v1beta"}[kind]
        return f"{self.url}/{account_id}{suffix}"

    # --- scripting and observation ----------------------------------------------------------------------------------

    def script(self, account_id: str, faults: Sequence[AnyFault | None]) -> None:
        """Answer the account's next requests with these faults in order (None: a normal answer), then normally.

        A scripted fault replaces the account's own checks for that request, so it uses no quota and no RPM.
        """
        self._state(account_id).script = deque(faults)

    def set_down(self, account_id: str, fault: AnyFault | None) -> None:
        """Fail every request of the account with `fault` until called again with None."""
        self._state(account_id).down = fault

    def configure(self, account_id: str, **changes: Any) -> SimAccount:
        """Change an account's behaviour (latency, quota, reply, ...) while running; counters are kept."""
        state = self._state(account_id)
        state.spec = SimAccount.model_validate(state.spec.model_dump() | changes)
        if (state.window.limit if state.window else None) != state.spec.rpm:
            state.window = RequestWindow(state.spec.rpm) if state.spec.rpm else None
        return state.spec

    def requests(self, account_id: str) -> list[SimRequest]:
        """The requests the account received, oldest first (the last `max_log` of them)."""
        return list(self._state(account_id).log)

    def stats(self, account_id: str) -> AccountStats:
        """How many requests the account received and how many it answered successfully."""
        state = self._state(account_id)
        return AccountStats(state.requests, state.succeeded, state.requests - state.succeeded)

    def reset_counters(self, account_id: str | None = None) -> None:
        """Forget requests, used quota and rate-limit windows (of one account or all); scripts stay."""
        for state in [self._state(account_id)] if account_id else self._accounts.values():
            state.log.clear()
            state.requests = state.succeeded = 0
            if state.window:
                state.window.clear()

    def _state(self, account_id: str) -> _AccountState:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise KeyError(f"no simulated account {account_id!r}") from None

    # --- serving ----------------------------------------------------------------------------------------------------

    async def _handle(self, request: HttpRequest) -> Action:
        account_id, _, rest = request.path[1:].partition("/")
        if account_id == "_sim":
            return control_response(self, request, rest)
        state = self._accounts.get(account_id)
        if state is None:
            return not_found(f"no simulated account {account_id!r}")
        route = match_route(state.spec.kind, request.method, "/" + rest)
        if route is None:
            return not_found(f"{request.method} {request.path} is not an endpoint of the {state.spec.kind} wire")
        if route.op == "models":
            return self._listing(state, request)
        return await self._generate(state, request, route)

    def _listing(self, state: _AccountState, request: HttpRequest) -> Action:
        """The wire's model listing: logged in `requests()` but not counted in `stats()` (it uses no quota)."""
        spec = state.spec
        fault: AnyFault | None = state.down
        if fault is None and spec.api_key is not None and not _key_matches(spec, request):
            fault = "auth"
        self._seq += 1
        if fault is None:
            action: Action = models_response(spec, request.query)
        else:
            action = self._respond(state, None, fault, None, False, f"{self._seq:012x}")
        status = action.status if isinstance(action, Response | StreamResponse) else 0
        state.log.append(
            SimRequest(
                self._seq,
                spec.id,
                request.method,
                request.path,
                _redact_query(request.query),
                _redact(request.headers),
                None,
                None,
                False,
                status,
                fault,
            )
        )
        return action

    async def _generate(self, state: _AccountState, request: HttpRequest, route: Route) -> Action:
        data = parse_json(request.body)
        call = parse_call(state.spec.kind, data, route.model, request.query)
        fault, window = self._decide(state, call, request)
        self._seq += 1
        seq, spec = self._seq, state.spec
        stream = route.stream or (call is not None and call.stream)
        action = self._respond(state, call, fault, window, stream, f"{seq:012x}")
        state.requests += 1
        if fault is None:
            state.succeeded += 1
        status = action.status if isinstance(action, Response | StreamResponse) else 0
        model = call.model if call else route.model
        state.log.append(
            SimRequest(
                seq,
                spec.id,
                request.method,
                request.path,
                _redact_query(request.query),
                _redact(request.headers),
                data,
                model,
                stream,
                status,
                fault,
            )
        )
        if spec.latency_ms:
            await anyio.sleep(spec.latency_ms / 1000)
        return action

    def _decide(
        self, state: _AccountState, call: Call | None, request: HttpRequest
    ) -> tuple[AnyFault | None, WindowState | None]:
        scripted = state.down or (state.script.popleft() if state.script else None)
        if scripted is not None:
            return scripted, None
        spec = state.spec
        if call is None:
            return "invalid", None
        if spec.api_key is not None and not _key_matches(spec, request):
            return "auth", None
        if spec.models is not None:
            if call.model not in spec.models:
                return "model_not_found", None
            if call.input_tokens > spec.models[call.model]:
                return "context_too_long", None
        window = state.window.take(self._clock()) if state.window else None
        if spec.quota_requests is not None and state.succeeded >= spec.quota_requests:
            return "quota_exhausted", window
        if window is not None and window.exceeded:
            return "rate_limited", window
        return None, window

    def _respond(
        self,
        state: _AccountState,
        call: Call | None,
        any_fault: AnyFault | None,
        window: WindowState | None,
        stream: bool,
        request_id: str,
    ) -> Action:
        spec = state.spec
        headers = (*(ratelimit_headers(spec.wire_flavour, window) if window else ()), *spec.headers.items())
        if any_fault is not None and any_fault in _HOSTILE:
            return self._hostile(spec, call, _HOSTILE[any_fault], stream, headers, request_id)
        fault = _PLAIN[any_fault] if any_fault is not None else None
        if fault == "timeout":
            return "hang"
        if fault == "reset":
            return "reset"
        if fault == "malformed":
            return Response(200, (JSON_TYPE, *headers), _MALFORMED_BODY)
        if fault == "error_in_stream" and not stream:
            fault = "server_error"  # a whole-body request has no stream to break
        if fault is None or fault in _STREAM_FAULTS:
            answer = self._answer(spec, call, request_id) if call else self._placeholder_answer(request_id)
            return self._success(spec, call, answer, stream, headers, fault)
        return error_response(spec.wire_flavour, fault, self._error_context(spec, call, window, request_id), headers)

    def _hostile(
        self,
        spec: SimAccount,
        call: Call | None,
        fault: HostileFault,
        stream: bool,
        headers: tuple[tuple[str, str], ...],
        request_id: str,
    ) -> Action:
        if fault == "huge_error":
            return huge_error_response(spec.huge_body_bytes, headers)
        answer = self._answer(spec, call, request_id) if call else self._placeholder_answer(request_id)
        answer = hostile_answer(answer, fault, spec.huge_body_bytes)
        extra = INF_HEADERS if fault == "inf_header" else ()
        return self._success(spec, call, answer, stream, (*headers, *extra), None)

    def _error_context(
        self, spec: SimAccount, call: Call | None, window: WindowState | None, request_id: str
    ) -> ErrorContext:
        model = call.model if call else "unknown"
        if window is not None:
            limit, retry_after = window.limit, window.retry_after_s
        else:
            limit, retry_after = spec.quota_requests or spec.rpm or 5, spec.retry_after_s
        if spec.quota_requests is not None and window is None:
            limit = spec.quota_requests
        return ErrorContext(
            model=model,
            input_tokens=call.input_tokens if call else 0,
            # a scripted overflow with no configured window quotes one just below the prompt
            window=(spec.models or {}).get(model) or max(1, (call.input_tokens if call else 1) - 1),
            limit=limit,
            retry_after_s=retry_after,
            now=self._clock(),
            request_id=f"req_sim{request_id}",
        )

    def _answer(self, spec: SimAccount, call: Call, request_id: str) -> Answer:
        prompt = " ".join(call.prompt.split()[:_PROMPT_WORDS])
        if spec.reply is None:
            text = f"{spec.id} ({call.model}) answers: {prompt}"
        else:
            text = spec.reply
            for name, value in (("account", spec.id), ("model", call.model), ("n", str(self._seq))):
                text = text.replace("{" + name + "}", value)
            text = text.replace("{prompt}", prompt)
        output_tokens = spec.output_tokens or estimate_tokens(len(text))
        truncated = call.max_output_tokens is not None and output_tokens > call.max_output_tokens
        if truncated and call.max_output_tokens is not None:
            text = text[: call.max_output_tokens * 4]
            output_tokens = call.max_output_tokens
        cache = self._prompt_caches.get(spec.id)
        read, write = cache.use(call.cache_prefix, self._clock()) if cache is not None else (0, 0)
        return Answer(
            text,
            call.model,
            max(1, call.input_tokens - read - write),
            output_tokens,
            truncated,
            request_id,
            int(self._clock()),
            call.include_usage,
            spec.cost_usd,
            tool=call.forced_tool,
            cache_read=read,
            cache_write=write,
        )

    def _placeholder_answer(self, request_id: str) -> Answer:
        return Answer("a reply cut short by the simulator", "unknown", 1, 8, False, request_id, int(self._clock()))

    def _success(
        self,
        spec: SimAccount,
        call: Call | None,
        answer: Answer,
        stream: bool,
        headers: tuple[tuple[str, str], ...],
        fault: Fault | None,
    ) -> Response | StreamResponse:
        flavour = spec.wire_flavour
        id_header = _REQUEST_ID_HEADER.get(flavour)
        request_headers = ((id_header, f"req_sim{answer.request_id}"),) if id_header else ()
        if not stream:
            body = {"anthropic": anthropic_json, "gemini": gemini_json}.get(flavour)
            payload = body(answer) if body else openai_json(flavour, answer)
            if fault == "truncated_stream":
                payload = payload[: len(payload) // 2]
            content_type = (
                "content-type",
                "application/json; charset=UTF-8" if flavour == "gemini" else "application/json",
            )
            return Response(200, (content_type, *request_headers, *headers), payload)
        sse = call.sse if call else True
        plan = self._plan(spec, answer, sse)
        frames = plan.head + plan.body + plan.tail
        if fault == "truncated_stream":
            frames = plan.head + plan.body[: max(1, len(plan.body) // 2)]
        elif fault == "error_in_stream":
            ctx = self._error_context(spec, call, None, answer.request_id)
            frames = [*plan.head, *plan.body[:1], stream_error_frame(flavour, ctx, answer.model)]
        stream_type = "text/event-stream" if sse else "application/json; charset=UTF-8"
        first_s, rest_s = profile_times(spec, answer.output_tokens, answer.request_id)
        return StreamResponse(
            200,
            (("content-type", stream_type), *request_headers, *headers),
            tuple(frames),
            spec.chunk_latency_ms / 1000,
            first_s,
            rest_s,
            len(plan.head) + len(plan.body),
            self._pace if first_s or rest_s else None,
        )

    @staticmethod
    def _plan(spec: SimAccount, answer: Answer, sse: bool) -> StreamPlan:
        if spec.kind == "anthropic":
            return anthropic_stream(answer)
        if spec.kind == "gemini":
            return gemini_stream(answer, sse)
        return openai_stream(spec.wire_flavour, answer)
