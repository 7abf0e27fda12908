"""Router settings (env prefix ``ROUTER_``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kxflow_contracts.runtime.settings import ServiceSettings
from zap_router.domain.health import AutoDisablePolicy
from zap_router.domain.retry import parse_ladder


class RouterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", env_file=".env", extra="ignore")

    service_name: str = "zap-router"
    mongodb_database: str = "kxflow_router"
    http_port: int = 8010
    group_id: str = "kxflow-router"
    kartra_gateway_url: str = "http://127.0.0.1:8020"
    xero_gateway_url: str = "http://127.0.0.1:8030"
    consume: bool = Field(default=True, description="Consume events/results (off = API only)")
    event_batch_max: int = 500
    run_shards: int = Field(
        default=1, description="Collections runs are spread over (MongoDB: 1; FerretDB scans per update: 16+)"
    )
    store_concurrency: int = Field(
        default=8, description="Runs updated at once per replica (keep low on FerretDB/SQLite: one writer)"
    )
    batch_timeout_ms: int = 50
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    retry_ladder_seconds: str = Field(
        default="60,300,1800,7200,21600", description="Autoreplay delays after attempts 1, 2, … (seconds)"
    )
    redispatch_after_s: float = Field(
        default=60.0,
        description=(
            "After a redelivery (a crash or rebalance), a step still without a result this long after "
            "is sent again with the same command id (the gateways' ledger absorbs a duplicate)"
        ),
    )
    scheduler_interval_s: float = 1.0
    run_retention_days: float = Field(
        default=30.0,
        ge=0,
        description=(
            "Finished runs are deleted this long after they finished (0 = keep forever). Keep it at "
            "least the events topics' retention (30 days): a redelivered event must find its run"
        ),
    )
    retention_interval_s: float = Field(default=3600.0, gt=0, description="How often the retention job runs")
    reconcile_interval_s: float = 30.0
    command_deadline_s: float = Field(default=86_400.0, description="not_after of a command")
    auto_disable_min_runs: int = 20
    auto_disable_ratio: float = 0.95
    auto_disable_days: float = 7.0
    notify: bool = Field(default=True, description="Run the notifier (its own consumer group on runs.v1)")
    notify_group_id: str = "kxflow-notifier"
    notify_min_interval_s: float = Field(default=60.0, description="At most one message per rule this often")
    notify_settle_s: float = Field(
        default=5.0, description="A burst is sent once quiet this long (as a digest)"
    )
    notify_max_delay_s: float = Field(default=120.0, description="…or once its oldest item waited this long")
    notify_tick_s: float = Field(default=1.0, description="How often due notifications are looked for")
    notify_connections_check_s: float = Field(
        default=300.0, description="How often the gateways are asked for connections needing re-authorisation"
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail rules (unset: none)")
    smtp_port: int = 25
    smtp_from: str = "kxflow@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    console_cookie_secure: bool = Field(
        default=True, description="Console session cookie only over HTTPS (browsers allow it on localhost)"
    )
    console_url: str | None = Field(
        default=None,
        description="Public URL of the console (e.g. `https://kxflow.example/console`) for links",
    )

    @property
    def retention(self) -> timedelta | None:
        return timedelta(days=self.run_retention_days) if self.run_retention_days > 0 else None

    @property
    def ladder(self) -> tuple[timedelta, ...]:
        return parse_ladder(self.retry_ladder_seconds)

    @property
    def auto_disable(self) -> AutoDisablePolicy:
        return AutoDisablePolicy(
            self.auto_disable_min_runs, self.auto_disable_ratio, timedelta(days=self.auto_disable_days)
        )
