"""One settings model, read from environment variables.

Functions surfaces `local.settings.json` and Azure app settings as environment
variables, so this is the only configuration path. Nothing is required for the
embedded default: an empty environment means SQLite, the local queue, a data folder,
dev tokens and the `local` provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.budget import BudgetPolicy, Enforcement, Strategy

PREFIX = "DONATELLO_"


class SettingsError(Exception):
    """A setting is present but invalid; the message names it."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path(".donatello")
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    queue_lock_duration_seconds: float = Field(default=60.0, gt=0)
    queue_max_delivery_count: int = Field(default=10, ge=1)

    auth_mode: Literal["dev", "entra"] = "dev"
    issuer: str = "https://donatello.local/dev"
    audience: str = "api://donatello"
    jwks_url: str | None = None
    allowed_tenant_ids: tuple[str, ...] = ()
    department_claim: str = "department"

    enabled_providers: tuple[str, ...] = ("local",)
    provider_attempts: int = Field(default=3, ge=1)
    provider_backoff_seconds: tuple[float, ...] = (2.0, 4.0, 8.0)

    default_monthly_limit_aud: Decimal = Decimal("500.00")
    default_enforcement: Enforcement = Enforcement.HARD
    default_strategy: Strategy = Strategy.BALANCED

    stuck_after_seconds: float = Field(default=120.0, gt=0)
    max_request_bytes: int = Field(default=1_048_576, gt=0)

    @property
    def default_policy(self) -> BudgetPolicy:
        return BudgetPolicy(
            monthly_limit_aud=self.default_monthly_limit_aud,
            enforcement=self.default_enforcement,
            strategy=self.default_strategy,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read `DONATELLO_<FIELD>` variables; tuples are comma-separated."""
        values: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            raw = environ.get(PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            is_tuple = "tuple" in str(field.annotation)
            values[name] = (
                tuple(p.strip() for p in raw.split(",") if p.strip()) if is_tuple else raw
            )
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{PREFIX}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in error.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from error
