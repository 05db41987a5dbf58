"""The argument grammar of `provider-router`: every verb, its flags and its help text (argparse only, no I/O).

Each verb names the function that runs it as "module:function"; `server.cli` imports that module only when the
verb runs, so `serve` never pays for the dashboard's or the tokenizer's imports.
"""

from __future__ import annotations

import argparse

TASK_TYPES = ("coding", "reasoning", "creative", "simple")
QUALITY_MODES = ("max_speed", "balanced", "max_quality", "max_context", "cost_first")
BUDGET_MODES = ("free_only", "cost_first", "quality_first")
PERIODS = ("day", "week", "month")
OUTCOMES = ("served", "failover", "failed", "refused")
CLIENTS = ("claude-code", "claude-desktop", "cursor", "vscode", "windsurf", "codex", "gemini-cli", "zed")

DESCRIPTION = """\
Route an AI coding agent's sub-tasks to the cheapest capable LLM, across providers, accounts and quotas.

First steps:
  provider-router demo                 see it work on simulated providers (no keys, nothing written to your home)
  provider-router setup                choose providers, paste keys (kept in the OS keychain), write providers.json
  provider-router install claude-code  register the MCP server with an agent (or cursor, vscode, codex, ...)
  provider-router status               what is routed where, quota left, spend, recent decisions
"""

EPILOG = """\
Exit status: 0 success, 1 a problem you can fix (the message says how), 2 a usage error.
Every verb that prints data accepts --json. Files live in $PROVIDER_ROUTER_HOME
(default ~/.config/provider-router): providers.json and router.db. Run `provider-router VERB --help` for details.
"""


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")


def _verb(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    target: str,
    summary: str,
    *,
    details: str = "",
    json: bool = True,
) -> argparse.ArgumentParser:
    parser = verbs.add_parser(
        name,
        help=summary,
        description=f"{summary}\n\n{details}".strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(target=target)
    if json:
        _json(parser)
    return parser


def _views(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = _verb(
        verbs,
        "status",
        "server.cli.verbs.views:status",
        "Show the current provider, each provider's quota, spend and latency, and recent routing decisions.",
    )
    status.add_argument("--provider", help="show only this provider")
    status.add_argument("--member", help="only this team member's decisions and latency")
    _verb(verbs, "list", "server.cli.verbs.views:list_providers", "List the configured providers, models and accounts.")
    quota = _verb(
        verbs,
        "quota",
        "server.cli.verbs.views:quota",
        "Show requests, tokens and spend against each limit and budget, with when each resets.",
    )
    quota.add_argument("--period", choices=("day", "month"), default="day", help="the window to report (day)")
    quota.add_argument("--provider", help="show only this provider")
    log = _verb(
        verbs,
        "log",
        "server.cli.verbs.views:log",
        "Show recent routing decisions and switches, newest first, each with its reason.",
    )
    log.add_argument("-n", "--limit", type=int, default=20, help="how many decisions to show (20)")
    log.add_argument("--id", type=int, dest="decision_id", help="show one decision with its candidates and attempts")
    log.add_argument("--task", choices=TASK_TYPES, help="only decisions of this task type")
    log.add_argument("--provider", help="only decisions routed to this provider")
    log.add_argument("--reason", help="only decisions with this reason (preference, failover, cost_first, ...)")
    log.add_argument("--outcome", choices=OUTCOMES, help="only decisions that ended so")
    log.add_argument("--conversation", help="only this conversation's decisions")
    log.add_argument("--flow", action="store_true", help="count decisions from task type to provider to outcome")
    log.add_argument("--member", help="only this team member's decisions")
    log.add_argument("--period", choices=PERIODS, default="day", help="the period of --flow (day)")
    for name, target, summary, default in (
        ("costs", "server.cli.verbs.reports:costs",
         "Show spend by provider, model, task type and day, the budget burn-down, and the savings.", "month"),
        ("performance", "server.cli.verbs.reports:performance",
         "Show latency p50/p95/p99 and time to first token per provider and model, errors and failovers.", "day"),
    ):  # fmt: skip
        report = _verb(verbs, name, target, summary)
        report.add_argument("--period", choices=PERIODS, default=default, help=f"day, week or month ({default})")
        report.add_argument("--member", help="only this team member's decisions")
    monitor = _verb(
        verbs,
        "monitor",
        "server.cli.verbs.views:monitor",
        "A live dashboard refreshing from the shared database while your agents work (Ctrl-C to quit).",
        json=False,
    )
    monitor.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (1)")
    monitor.add_argument("--once", action="store_true", help="draw the dashboard once and exit")
    monitor.add_argument("--member", help="only this team member's decisions and latency")
    models = _verb(
        verbs,
        "models",
        "server.cli.verbs.models:models",
        "Show which models each account can really use: the provider's own listing merged with the catalogue.",
        details="Listings are stored and reused (a server refreshes them at most once a day per account).\n"
        "Each model is catalogued, uncatalogued (unknown to the catalogue: conservative defaults) or not listed\n"
        "(configured, but the provider no longer lists it). Prices and context windows can be corrected in\n"
        "catalog.json beside providers.json (the packaged catalogue's format, merged over it).",
    )
    models.add_argument("provider", metavar="PROVIDER", nargs="?", help="only this provider's accounts")
    models.add_argument("--refresh", action="store_true", help="fetch each account's listing now")
    models.add_argument(
        "--refresh-prices",
        action="store_true",
        help="rewrite catalog.json's prices from the installed genai-prices (moves over 5x are held back)",
    )


def _choices(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prefer = _verb(
        verbs,
        "prefer",
        "server.cli.verbs.prefs:prefer",
        "Set which providers to prefer (an order, never an allow-list).",
        details="Examples:\n  provider-router prefer zai                               the default provider\n"
        "  provider-router prefer --task coding openai anthropic    the order for coding tasks\n"
        "  provider-router prefer --quality max_speed google zai    the order when speed is asked for",
    )
    scope = prefer.add_mutually_exclusive_group()
    scope.add_argument("--task", choices=TASK_TYPES, help="set the order for this task type")
    scope.add_argument("--quality", choices=QUALITY_MODES, help="set the order for this quality mode")
    prefer.add_argument("providers", nargs="+", metavar="PROVIDER", help="provider ids, most preferred first")
    budget = _verb(
        verbs,
        "budget",
        "server.cli.verbs.prefs:budget",
        "Set the budget mode: free_only (free tiers only), cost_first (cheapest capable) or quality_first.",
    )
    budget.add_argument("mode", choices=BUDGET_MODES, metavar="MODE", help=" | ".join(BUDGET_MODES))
    switch = _verb(
        verbs,
        "switch",
        "server.cli.verbs.prefs:switch",
        "Send every request to one provider until `provider-router switch auto` (or `reset`).",
    )
    switch.add_argument("provider", metavar="PROVIDER|auto", help="a configured provider id, or auto")
    switch.add_argument("--model", help="also pin this model of the provider")
    switch.add_argument("--conversation", help="switch only this conversation id")
    _verb(
        verbs,
        "reset",
        "server.cli.verbs.prefs:reset",
        "Back to automatic routing: clear the manual switch, cooldowns, exhausted marks and learned limits.",
    )


def _keys(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = _verb(
        verbs,
        "keys",
        "server.cli.verbs.keys:keys",
        "Store, list or delete API keys in the OS keychain (keys are never printed).",
        json=False,
    )
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, summary in (
        ("set", "store a key for PROVIDER (read without echo; or piped on stdin)"),
        ("delete", "delete PROVIDER's key from the keychain"),
    ):
        action = actions.add_parser(name, help=summary, description=summary)
        action.add_argument("provider", metavar="PROVIDER")
        action.add_argument("--account", help="the account id, for a provider with several accounts")
        _json(action)
    listing = actions.add_parser("list", help="show each account and where its key lives")
    listing.add_argument("provider", metavar="PROVIDER", nargs="?", help="only this provider's accounts")
    listing.add_argument("--account", help="only this account")
    _json(listing)


def _config(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = _verb(
        verbs,
        "config",
        "server.cli.verbs.prefs:config",
        "Show, check or change providers.json.",
        json=False,
        details="Examples:\n  provider-router config path\n  provider-router config show --json\n"
        "  provider-router config validate\n  provider-router config set preferences.autoSwitch false\n"
        "  provider-router config set providers.google.quota.requestsPerDay 250",
    )
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, summary in (
        ("path", "print where providers.json and router.db are"),
        ("show", "print the configuration in force (secrets never shown)"),
        ("validate", "check providers.json and list every problem with its fix"),
    ):
        _json(actions.add_parser(name, help=summary, description=summary))
    setter = actions.add_parser("set", help="set one key (a dotted path); the old file is kept as a backup")
    setter.add_argument("key", metavar="KEY", help="e.g. preferences.budgetMode, settings.timezone")
    setter.add_argument("value", metavar="VALUE", help='JSON (true, 12, ["a","b"]) or a plain string')
    _json(setter)


def _cache(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = _verb(
        verbs,
        "cache",
        "server.cli.verbs.cache:cache",
        "Show what the response cache holds and has saved, or clear it.",
        json=False,
    )
    actions = cache.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, summary in (
        ("stats", "entries, bytes, hits, tokens and dollars saved"),
        ("clear", "delete every cached answer (the totals saved are kept)"),
    ):
        _json(actions.add_parser(name, help=summary, description=summary))


def _tools(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dashboard = _verb(
        verbs,
        "dashboard",
        "server.cli.verbs.web:dashboard",
        "Open the web dashboard: live overview, routing decisions, costs and performance (local only).",
        json=False,
        details="Serves on 127.0.0.1 with a random access token; the first line printed is the URL to open.",
    )
    dashboard.add_argument("--host", default="127.0.0.1", help="the address to listen on (127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    dashboard.add_argument("--no-open", action="store_true", help="do not open a browser")
    _serve(verbs)
    ask = _verb(verbs, "ask", "server.cli.verbs.ask:ask", "Send one prompt through the router and print the answer.")
    ask.add_argument("prompt", metavar="PROMPT", help="the prompt; - reads it from stdin")
    ask.add_argument("--task", choices=TASK_TYPES, help="the task type (inferred when absent)")
    ask.add_argument("--quality", choices=QUALITY_MODES[:4], help="the quality mode")
    ask.add_argument("--provider", help="pin this provider")
    ask.add_argument("--max-output-tokens", type=int, help="cap the answer's length")
    ask.add_argument("--dry-run", action="store_true", help="show the ranked candidates without calling any")
    ask.add_argument(
        "--file", action="append", default=[], metavar="PATH", help="attach a file or glob under the current directory"
    )
    ask.add_argument("--image", action="append", default=[], metavar="PATH", help="attach a PNG/JPEG/WebP/GIF image")
    ask.add_argument("--line-numbers", action="store_true", help="number the attached files' lines")
    setup = _verb(
        verbs,
        "setup",
        "server.cli.verbs.run:setup",
        "Interactive first run: providers, keys (to the keychain), preferences, budget, providers.json.",
        json=False,
        details="Re-run it any time: the existing providers.json is kept as a backup and its values are offered "
        "as defaults.\nNon-interactive: provider-router setup --yes --providers google,zai --budget-mode free_only",
    )
    setup.add_argument("--yes", action="store_true", help="do not ask: take the flags and the defaults")
    setup.add_argument("--providers", help="comma-separated provider ids to configure (e.g. google,zai,openai)")
    setup.add_argument("--budget-mode", choices=BUDGET_MODES, help="the budget mode")
    setup.add_argument("--daily-budget", type=float, help="global daily spend cap in USD")
    setup.add_argument("--no-verify", action="store_true", help="do not send a test request per key")
    setup.add_argument("--no-install", action="store_true", help="do not offer to register with agents")
    setup.add_argument("--base-url-override", help=argparse.SUPPRESS)
    doctor = _verb(
        verbs,
        "doctor",
        "server.cli.verbs.run:doctor",
        "Check the configuration, keychain, database, each provider and the clock; each problem with its fix.",
    )
    doctor.add_argument("--offline", action="store_true", help="do not contact the providers")
    _verb(
        verbs,
        "demo",
        "server.cli.verbs.run:demo",
        "A one-minute tour on simulated providers: failovers, a pool draining evenly, a budget stop.",
        details="Needs no keys and no configuration; runs in a temporary directory and leaves nothing behind.",
    )
    install = _verb(
        verbs,
        "install",
        "server.cli.verbs.run:install",
        "Register provider-router as an MCP server in an agent's or editor's config.",
        json=False,
    )
    install.add_argument("client", choices=CLIENTS, metavar="CLIENT", help=" | ".join(CLIENTS))
    install.add_argument("--scope", choices=("user", "project"), default="user", help="user (default) or project")
    install.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    install.add_argument(
        "--instructions", action="store_true", help="also add the delegation instructions to the project's file"
    )
    install.add_argument("--url", help="a team router's MCP URL (https://host/mcp): write the HTTP form of the entry")
    install.add_argument("--token", help="with --url: the member's bearer token (from `provider-router team add`)")


def _serve(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = _verb(
        verbs,
        "serve",
        "server.cli.verbs.run:serve",
        "Run the MCP server on stdio (what agents start), or with --http for a team.",
        json=False,
        details="With --http: MCP streamable HTTP at path /mcp, for several clients at once; the first line on\n"
        "stdout is `MCP: URL`. Once members exist (`provider-router team add`), every request needs a member's\n"
        "bearer token; binding to anything but loopback requires members. TLS: put a reverse proxy in front, or\n"
        "pass --certfile/--keyfile.",
    )
    serve.add_argument("--http", action="store_true", help="serve MCP streamable HTTP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="with --http: the address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="with --http: the port (8765; 0 picks a free one)")
    serve.add_argument("--certfile", help="with --http: a TLS certificate (PEM) for HTTPS")
    serve.add_argument("--keyfile", help="with --http: the TLS certificate's private key (PEM)")


def _team(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    team = _verb(
        verbs,
        "team",
        "server.cli.verbs.team:team",
        "Manage the members of a team router (`serve --http`): bearer tokens and per-member budgets.",
        json=False,
        details="Examples:\n  provider-router team add alice --budget-daily 2 --budget-monthly 20\n"
        "  provider-router team add bob --admin\n  provider-router team list\n"
        "  provider-router team rotate alice\n  provider-router team remove bob\n"
        "A token is printed once (only its hash is stored): `rotate` issues a new one.",
    )
    actions = team.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a member and print their token once")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--budget-daily", type=float, metavar="USD", help="the member's daily spend cap")
    add.add_argument("--budget-monthly", type=float, metavar="USD", help="the member's monthly spend cap")
    add.add_argument("--admin", action="store_true", help="the member sees everyone's decisions and prompts")
    _json(add)
    _json(actions.add_parser("list", help="every member with their caps and spend"))
    for name, summary in (
        ("remove", "remove a member (their token stops working at once)"),
        ("rotate", "issue a new token for a member (the old one stops working at once)"),
    ):
        action = actions.add_parser(name, help=summary, description=summary)
        action.add_argument("name", metavar="NAME")
        _json(action)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: `provider-router VERB [options]`."""
    parser = argparse.ArgumentParser(
        prog="provider-router",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    for add in (_views, _choices, _keys, _config, _cache, _tools, _team):
        add(verbs)
    return parser
