"""`reset`: back to automatic routing; the manual switch, cooldowns, exhausted marks, breakers and learned limits
cleared, the switch audited."""

from __future__ import annotations

from pydantic import BaseModel

from server.views import PinView
from server.wiring import App
from storage import SwitchRecord


class ResetResult(BaseModel):
    previous: PinView | None = None
    accounts_reset: int

    @property
    def switch_cleared(self) -> bool:
        return self.previous is not None


async def reset(app: App) -> ResetResult:
    """Clear the global switch and every account's and model's routing state."""
    now = app.clock()
    previous = await app.conversations.global_pin()
    await app.conversations.set_global_pin(None, None, now)
    cleared = await app.states.reset()
    if previous is not None:
        record = SwitchRecord(reason="manual", from_provider=previous.provider, from_model=previous.model)
        await app.decisions.record_switch(record, now)
    pin = PinView(provider=previous.provider, model=previous.model, set_at=previous.set_at) if previous else None
    return ResetResult(previous=pin, accounts_reset=cleared)
