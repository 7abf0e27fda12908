"""kartra-gateway settings (env prefix ``KARTRA_GW_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kxflow_contracts.runtime.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KARTRA_GW_", env_file=".env", extra="ignore")

    service_name: str = "kartra-gateway"
    mongodb_database: str = "kxflow_kartra"
    http_port: int = 8020
    public_base_url: str = Field(
        default="http://127.0.0.1:8020",
        description="Base URL Kartra posts webhooks to (shown in connections)",
    )
    kartra_api_url: str = "https://app.kartra.com/api"
    kartra_rate_per_second: float = Field(default=16.0, description="Calls/s per Kartra App (limit: 20)")
    kartra_rate_burst: int = 2
    shared_rate_limits: bool = Field(
        default=False,
        description="Also count each App's calls across every replica, through MongoDB "
        "(runtime.shared_limits; the Helm chart, which runs two or more replicas, turns it on)",
    )
    kartra_shared_calls_per_second: int = Field(
        default=18, description="Calls per App in any 1.1 s across replicas, when shared (limit: 20/s)"
    )
    kartra_backoff_seconds: float = Field(default=1.0, description="Wait after a 429 (Kartra: 1 s)")
    kartra_timeout_seconds: float = 20.0
    dedupe_window_seconds: float = Field(
        default=3600.0, description="Identical deliveries collapse within it"
    )
    connection_cache_ttl_seconds: float = Field(
        default=1.0,
        description="Connection lookups (misses too) are cached this long: a deleted connection or "
        "rotated secret stops working on every replica within it",
    )
    consumer_group: str = "kxflow-kartra-gateway"
    command_workers: int = Field(
        default=1, description="Commands of one connection run at once by one replica (1 keeps their order)"
    )
    ledger_retention_days: float = Field(
        default=30.0, description="Action ledger entries (and their outputs) untouched this long are purged"
    )
