"""What a user can change, one use case per action: the MCP tool and the CLI verb both call it and only render
its result."""

from server.actions.switch import SwitchResult, resolve_provider, resolve_target, switch

__all__ = [
    "SwitchResult",
    "resolve_provider",
    "resolve_target",
    "switch",
]
