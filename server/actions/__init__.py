"""What a user can do, one use case per action: the MCP tool and the CLI verb both call it and only render its
result (README "The public surface")."""

from server.actions.attach import Attachments, attach
from server.actions.cache import CacheClearResult, clear_cache
from server.actions.preferences import PreferenceResult, set_preference
from server.actions.reset import ResetResult, reset
from server.actions.route import route
from server.actions.switch import SwitchResult, resolve_provider, resolve_target, switch

__all__ = [
    "Attachments",
    "attach",
    "CacheClearResult",
    "clear_cache",
    "PreferenceResult",
    "ResetResult",
    "SwitchResult",
    "reset",
    "resolve_provider",
    "resolve_target",
    "route",
    "set_preference",
    "switch",
]
