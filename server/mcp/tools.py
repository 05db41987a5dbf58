"""The five MCP tools: typed inputs with descriptions, pydantic outputs, and bodies that delegate.

Failures the calling model can act on are `ToolError`s (an `isError` result whose text names the fix):
a failed route lists its attempts, a broken configuration says what to edit, an unknown provider lists the
configured ones. The logic behind the tools lives in the router (routing/), the views (server.views), the
actions (server.actions) and the configuration writer (server.config.write).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from providers.models import TaskType
from providers.types import Message, Usage
from routing.fallback import ClientDeferred
from routing.preferences import BudgetMode, QualityMode
from routing.results import Attempt, DryRunResult, RouteError, RouteResult
from routing.router import RouteRequest
from routing.structured import check_schema, parsed
from routing.types import Reason
from server import actions, views
from server.actions import Attachments, SwitchResult
from server.config import ConfigError
from server.mcp.roots import RootsDeferred, client_workspace, roots_request
from server.mcp.sampling import client_model, input_required
from server.mcp.state import ServerState
from storage import StoreError

Ctx = Context[ServerState, Any]

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
SETTING = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
CALLS_OUT = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)


class ChatMessage(BaseModel):
    """One turn of the conversation to send."""

    role: Literal["user", "assistant", "system"] = Field(description="who said it; system turns join `system`")
    content: str = Field(description="the text of the turn")


class FileTokens(BaseModel):
    """A workspace file the server read into the request, and its tokens (o200k_base, its block included)."""

    path: str
    tokens: int


class RouteOutput(BaseModel):
    """A routed completion (or, with dry_run, the decision without a call)."""

    text: str = Field(description="the answer; empty for a dry run")
    provider: str | None = None
    model: str | None = None
    account: str | None = None
    reason: Reason | None = Field(default=None, description="why this provider served")
    confidence: float = 0.0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    attempts: list[Attempt] = Field(default_factory=list, description="every provider tried, in order")
    conversation_id: str | None = Field(default=None, description="pass it back to continue this conversation")
    decision_id: int | None = Field(default=None, description="see router://decisions/{decision_id}")
    dry_run: bool = False
    candidates: list[dict[str, Any]] = Field(default_factory=list, description="dry run: ranked, scores explained")
    excluded: list[dict[str, Any]] = Field(default_factory=list, description="dry run: each with its filter")
    explanation: list[str] = Field(default_factory=list)
    task_type: TaskType | None = None
    task_type_inferred: bool = False
    quality: QualityMode | None = None
    budget_mode: BudgetMode | None = None
    finish_reason: str | None = None
    estimated_input_tokens: int | None = None
    switched: str | None = Field(default=None, description="the conversation moved: 'from -> to (why)'")
    error: str | None = Field(default=None, description="dry run: why no provider can serve")
    cache_hit: bool = Field(default=False, description="served from the response cache: no call, $0")
    files: list[FileTokens] = Field(default_factory=list, description="the files read into the request")
    parsed: Any = Field(
        default=None, alias="json", description="with `json_schema`: the answer parsed (valid against the schema)"
    )

    model_config = ConfigDict(populate_by_name=True)


def _cost(cost_usd: float) -> str:
    if cost_usd == 0:
        return "free"
    return "<$0.0001" if cost_usd < 0.0001 else f"${cost_usd:.4f}"


def route_line(out: RouteOutput) -> str:
    """The one line an agent reads under the answer: where it went, why, cost, time, conversation."""
    if out.dry_run:
        if out.provider is None:
            return f"dry run: no provider can serve this request: {out.error}"
        counts = f"{len(out.candidates)} candidates, {len(out.excluded)} excluded"
        substitution = out.candidates[0].get("substitution") if out.candidates else None
        return (
            f"dry run: would route to {out.provider}/{out.model} (account {out.account}) · {out.reason} · "
            f"confidence {out.confidence:.2f} · {counts} · conversation {out.conversation_id}"
            + (f" · {substitution}" if substitution else "")
        )
    failed = sum(1 for a in out.attempts if a.outcome != "success")
    after = f" after {failed} failed attempt{'s' if failed > 1 else ''}" if failed else ""
    return (
        f"— routed to {out.provider}/{out.model} (account {out.account}) · {out.reason}{after} · "
        f"{_cost(out.cost_usd)} · {out.latency_ms:.0f} ms · conversation {out.conversation_id}"
    )


def route_output(result: RouteResult | DryRunResult, *, structured: bool = False) -> RouteOutput:
    """The tool's output; `structured`: the request had a json_schema, so the (validated) answer is parsed too."""
    if isinstance(result, DryRunResult):
        data = result.model_dump(exclude={"explanation"})
        return RouteOutput(**data, explanation=list(result.explanation), dry_run=True, text="")
    data = result.model_dump(exclude={"attempts", "tool_calls", "usage"})
    value = parsed(result.text) if structured else None
    return RouteOutput(**data, attempts=list(result.attempts), usage=result.usage, parsed=value)


def as_messages(prompt: str | None, messages: list[ChatMessage] | None, system: str | None) -> RouteRequest:
    """The request's turns and system text; exactly one of prompt and messages must be given."""
    if (prompt is None) == (messages is None):
        raise ToolError("give exactly one of `prompt` (a string) or `messages` (a list of {role, content})")
    turns = [ChatMessage(role="user", content=prompt or "")] if prompt is not None else list(messages or [])
    systems = [m.content for m in turns if m.role == "system"]
    chat = tuple(Message(role=m.role, content=m.content) for m in turns if m.role != "system")
    if not chat or chat[-1].role != "user":
        raise ToolError("the last message must be the user's (role 'user') with the task to do")
    if not chat[-1].content.strip():
        # every provider refuses an empty turn; saying so here spares a call that could only fail
        raise ToolError("the task is empty: put it in `prompt` (or the last user message)")
    joined = "\n\n".join(part for part in (system, *systems) if part)
    return RouteRequest(messages=chat, system=joined or None)


@contextmanager
def tool_errors() -> Iterator[None]:
    """Translate the failures an agent can act on into tool errors (their messages name the fix)."""
    try:
        yield
    except (RouteError, ConfigError, StoreError, ValueError) as error:
        raise ToolError(str(error)) from error


async def route_and_complete(
    ctx: Ctx,
    prompt: Annotated[str | None, Field(description="the task, self-contained (give this or `messages`)")] = None,
    messages: Annotated[
        list[ChatMessage] | None, Field(description="the conversation so far, last turn the user's (or `prompt`)")
    ] = None,
    system: Annotated[str | None, Field(description="standing instructions for the model")] = None,
    task_type: Annotated[
        TaskType | None, Field(description="coding | reasoning | creative | simple; inferred when omitted")
    ] = None,
    quality: Annotated[
        QualityMode | None, Field(description="max_speed | balanced | max_quality | max_context (long inputs)")
    ] = None,
    budget_mode: Annotated[
        BudgetMode | None, Field(description="free_only | cost_first | quality_first; default from the config")
    ] = None,
    provider: Annotated[str | None, Field(description="pin this provider for this call")] = None,
    model: Annotated[str | None, Field(description="pin this model for this call")] = None,
    conversation_id: Annotated[
        str | None,
        Field(
            description="the id from a previous result, to continue that conversation", pattern=r"^[A-Za-z0-9_-]{1,64}$"
        ),
    ] = None,
    max_output_tokens: Annotated[int | None, Field(description="cap on the answer's length", gt=0)] = None,
    temperature: Annotated[FiniteFloat | None, Field(description="sampling temperature", ge=0, le=2)] = None,
    max_cost_usd: Annotated[
        FiniteFloat | None, Field(description="refuse candidates that could cost more", ge=0)
    ] = None,
    dry_run: Annotated[bool, Field(description="decide and explain, without calling any provider")] = False,
    cache: Annotated[
        bool | None,
        Field(description="response cache: false bypasses it, true opts in; default: temperature 0 calls only"),
    ] = None,
    max_latency_s: Annotated[
        FiniteFloat | None,
        Field(description="skip candidates whose predicted p95 completion time is longer (seconds)", gt=0),
    ] = None,
    hedge: Annotated[
        bool | None,
        Field(description="when the first token is late, also start the next candidate and keep the faster"),
    ] = None,
    files: Annotated[
        list[str] | None,
        Field(description="paths or globs inside your workspace (MCP roots); the server reads them, not you"),
    ] = None,
    images: Annotated[
        list[str] | None, Field(description="PNG/JPEG/WebP/GIF paths inside your workspace; needs a vision model")
    ] = None,
    line_numbers: Annotated[bool, Field(description="number the lines of the attached files")] = False,
    json_schema: Annotated[
        dict[str, Any] | None,
        Field(description="a JSON Schema the answer must match; the parsed answer comes back as `json`"),
    ] = None,
) -> Annotated[CallToolResult, RouteOutput] | InputRequiredResult:
    """Send a self-contained task to the cheapest capable model (failing over on limits or errors).

    Give files and images by path (`files`, `images`): the server reads them from your workspace, so the call
    costs you only the paths. Returns the answer followed by one line: where it was routed, why, the cost and the
    conversation id.
    """
    state = ctx.request_context.lifespan_context
    await state.retry_open()
    app = state.ready()
    base = as_messages(prompt, messages, system)
    request = RouteRequest(
        messages=base.messages, system=base.system, task_type=task_type, quality=quality, budget_mode=budget_mode,
        provider=provider, model=model, conversation_id=conversation_id, max_output_tokens=max_output_tokens,
        temperature=temperature, max_cost_usd=max_cost_usd, dry_run=dry_run, cache=cache, json_schema=json_schema,
        max_latency_s=max_latency_s, hedge=hedge,
    )  # fmt: skip

    async def progress(tokens: int, message: str) -> None:
        await ctx.report_progress(tokens, None, message)  # a no-op unless the client asked for progress

    attachments = Attachments(files or [], images or [], line_numbers)
    with tool_errors():
        if json_schema is not None:
            check_schema(json_schema)
        try:
            if attachments:
                workspace = await client_workspace(ctx)
                request = await actions.attach(request, workspace, attachments, app.config.settings.attach_limits)
            result = await actions.route(app, request, progress, client_model(ctx))
        except RootsDeferred:
            return InputRequiredResult(input_requests=roots_request(ctx, True))  # the client retries with its roots
        except ClientDeferred as deferred:  # the client answers and retries the call (MCP 2026-07-28)
            return input_required(deferred, roots_request(ctx, bool(attachments)))
    out = route_output(result, structured=json_schema is not None)
    out.files = [FileTokens(path=file.path, tokens=file.tokens) for file in request.files]
    text = f"{out.text}\n\n{route_line(out)}" if out.text else route_line(out)
    content = out.model_dump(mode="json", by_alias=True)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=content)


async def provider_status(
    ctx: Ctx,
    provider: Annotated[str | None, Field(description="one provider id; all when omitted")] = None,
) -> views.StatusReport:
    """Health, cooldowns, quota use, spend and latency per provider and account, the pins in force, and any
    configuration problem with its fix."""
    state = ctx.request_context.lifespan_context
    await state.retry_open()
    if state.app is None:
        return views.unavailable_status(state.problem or "unknown problem", state.config_source, state.clock())
    with tool_errors():
        return await views.router_status(state.app, provider)


async def quota_report(
    ctx: Ctx,
    period: Annotated[Literal["day", "month"], Field(description="the calendar period to report")] = "day",
    provider: Annotated[str | None, Field(description="one provider id; all when omitted")] = None,
) -> views.QuotaReport:
    """Requests, tokens and spend per provider and account against their limits, when each resets, and when it
    runs out at the current rate."""
    state = ctx.request_context.lifespan_context
    await state.retry_open()
    app = state.opened()
    with tool_errors():
        return await views.quota_report(app, period, provider)


async def set_preference(
    ctx: Ctx,
    providers: Annotated[
        list[str] | None, Field(description="provider ids in order of preference (an order, never an allow-list)")
    ] = None,
    task_type: Annotated[TaskType | None, Field(description="set this task type's order")] = None,
    quality: Annotated[
        Literal["max_speed", "balanced", "max_quality", "max_context", "cost_first"] | None,
        Field(description="set this quality mode's order"),
    ] = None,
    default: Annotated[
        bool | str, Field(description="set the default provider: true (`providers` names one) or its id")
    ] = False,
    budget_mode: Annotated[BudgetMode | None, Field(description="free_only | cost_first | quality_first")] = None,
) -> actions.PreferenceResult:
    """Change the routing preferences in providers.json (comments kept, previous file backed up)."""
    state = ctx.request_context.lifespan_context
    await state.retry_open()
    app = state.opened()
    with tool_errors():
        return await actions.set_preference(
            app, providers=providers, task_type=task_type, quality=quality, default=default, budget_mode=budget_mode
        )


async def switch_provider(
    ctx: Ctx,
    provider: Annotated[str, Field(description="the provider to use from now on, or 'auto' for automatic routing")],
    model: Annotated[str | None, Field(description="one model of that provider (default: the router picks)")] = None,
    conversation_id: Annotated[
        str | None, Field(description="switch only this conversation (default: every conversation)")
    ] = None,
) -> SwitchResult:
    """Pin routing to one provider (and model), for everything or one conversation; 'auto' undoes it."""
    state = ctx.request_context.lifespan_context
    await state.retry_open()
    app = state.ready()
    with tool_errors():
        return await actions.switch(app, provider, model, conversation_id)


def register_tools(server: MCPServer[ServerState]) -> None:
    """Add the five tools to `server`."""
    for fn, title, hints in (
        (route_and_complete, "Route and complete", CALLS_OUT),
        (provider_status, "Provider status", READ_ONLY),
        (quota_report, "Quota report", READ_ONLY),
        (set_preference, "Set routing preference", SETTING),
        (switch_provider, "Switch provider", SETTING),
    ):
        description = inspect.cleandoc(fn.__doc__ or "")
        server.add_tool(fn, title=title, description=description, annotations=hints)
