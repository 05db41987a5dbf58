"""The configuration in force, as frozen values: what `server.config.load.load_config` returns."""

from __future__ import annotations

from pydantic import Field, SecretStr

from providers.models import ProviderConfig
from providers.types import DEFAULT_MAX_RESPONSE_BYTES, Frozen
from routing.preferences import Preferences
from server.workspace.limits import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_FILES, DEFAULT_MAX_IMAGE_BYTES, Limits

MIB = 1024 * 1024
SETUP_HINT = "run `provider-router setup` to configure providers"


class RouterSettings(Frozen):
    """The `settings` block of providers.json.

    - `retentionDays` (retention_days, 30): decision-log and attempt rows older than this are pruned.
    - `logPrompts` (log_prompts, false): store prompt and completion text in the decision log; off by default
      because prompts can hold secrets. (Conversations keep their messages whatever this says: see below.)
    - `conversationRetentionHours` (conversation_retention_hours, 168): conversations (with every prompt and
      answer of them) not continued for this long are deleted.
    - `requestTimeoutS` (request_timeout_s, 60): time allowed for one attempt at one provider.
    - `deadlineS` (deadline_s, 180): time allowed for a whole request, failovers included.
    - `timezone` (timezone, "UTC"): the zone of the day and month of the global budget and of reports.
    - `maxResponseMb` (max_response_mb, 8): the most one provider response may send; past it the attempt fails as
      malformed and the request fails over (a runaway or hostile upstream cannot exhaust memory).
    - `maxFileBytes` (max_file_bytes, 262144), `maxFiles` (max_files, 50), `maxImageBytes` (max_image_bytes,
      5 MiB): the most one attached file may hold, how many files one request may attach, the most one image may
      hold (route_and_complete's `files` and `images`).
    - `database` (database, ""): where the ledger lives: `sqlite:///path` or `postgresql://user:pass@host/db`
      (team mode: every node on one PostgreSQL); empty = router.db in the home. `PROVIDER_ROUTER_DATABASE_URL`
      wins over it. Kept secret: its password is never shown.
    """

    retention_days: int = Field(default=30, ge=1)
    log_prompts: bool = False
    conversation_retention_hours: int = Field(default=168, ge=1)
    request_timeout_s: float = Field(default=60.0, gt=0)
    deadline_s: float = Field(default=180.0, gt=0)
    timezone: str = "UTC"
    max_response_mb: float = Field(default=DEFAULT_MAX_RESPONSE_BYTES / MIB, gt=0)
    max_file_bytes: int = Field(default=DEFAULT_MAX_FILE_BYTES, gt=0)
    max_files: int = Field(default=DEFAULT_MAX_FILES, gt=0)
    max_image_bytes: int = Field(default=DEFAULT_MAX_IMAGE_BYTES, gt=0)
    database: SecretStr = SecretStr("")

    @property
    def attach_limits(self) -> Limits:
        return Limits(self.max_file_bytes, self.max_files, self.max_image_bytes)

    @property
    def max_response_bytes(self) -> int:
        return max(1, int(self.max_response_mb * MIB))


class RouterConfig(Frozen):
    """Everything read from providers.json. `missing` is true when there was no file: the server still starts."""

    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    preferences: Preferences = Preferences()
    settings: RouterSettings = RouterSettings()
    #: problems that do not stop the server (unknown keys, typos in preference lists, retired models, ...)
    warnings: tuple[str, ...] = ()
    #: the file (or other source) the configuration came from
    source: str = ""
    missing: bool = False

    @property
    def setup_hint(self) -> str | None:
        """What to tell the user when there is nothing to route to."""
        if self.missing:
            return f"no configuration at {self.source}; {SETUP_HINT}"
        if not self.providers:
            return f"no providers in {self.source}; {SETUP_HINT}"
        return None
