"""xero-gateway settings (env prefix ``XERO_GW_``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from kxflow_contracts.report_types import report_type_problem
from kxflow_contracts.runtime.settings import ServiceSettings
from kxflow_contracts.runtime.url_fetch import DEFAULT_CONTENT_TYPES, FetchPolicy
from xero_gateway.domain.polls import POLLABLE_REPORT_SCOPES

_GRANULAR_BEFORE_REPORTS = (
    "openid profile email offline_access accounting.invoices accounting.payments accounting.banktransactions "
    "accounting.contacts accounting.settings accounting.attachments"
)
_GRANULAR_AFTER_REPORTS = "payroll.employees payroll.payruns payroll.payslip projects"
GRANULAR_SCOPES = f"{_GRANULAR_BEFORE_REPORTS} {' '.join(POLLABLE_REPORT_SCOPES)} {_GRANULAR_AFTER_REPORTS}"
"""The granular scopes, with the read scope of every report type a New Report zap may choose."""
LEGACY_SCOPES = (
    "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings "
    "accounting.attachments accounting.reports.read payroll.employees payroll.payruns payroll.payslip "
    "projects"
)


class XeroGatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="XERO_GW_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = "xero-gateway"
    mongodb_database: str = "kxflow_xero"
    http_port: int = 8030
    consumer_group: str = "kxflow-xero-gateway"
    public_url: str = Field(default="http://127.0.0.1:8030", description="Where Xero redirects back to")

    api_base_url: str = "https://api.xero.com"
    identity_base_url: str = "https://identity.xero.com"
    login_base_url: str = "https://login.xero.com"
    client_id: str = ""
    client_secret: str = ""
    webhook_key: str = ""
    legacy_scopes: bool = Field(
        default=False, description="Apps created before 2 March 2026 may keep broad scopes"
    )
    custom_connection: bool = Field(default=False, description="Client-credentials (custom connection) app")
    custom_connection_tenant: str = Field(
        default="",
        description="The one kxflow tenant that may create the custom connection (a custom "
        "connection is one organisation's); with CUSTOM_CONNECTION, required to enable it",
    )
    oauth_state_ttl_seconds: float = Field(
        default=600.0, description="An OAuth flow must come back to the callback within this"
    )

    per_minute: int = 60
    per_day: int = 5000
    concurrent: int = 5
    app_per_minute: int = 10_000
    shared_rate_limits: bool = Field(
        default=False,
        description="Also count every organisation's and the app's calls across all replicas, "
        "through MongoDB (runtime.shared_limits; the Helm chart, which runs two or more replicas, "
        "turns it on)",
    )
    window_margin_seconds: float = Field(default=1.0, description="Safety margin on the rolling minute")
    clock_speed: float = Field(default=1.0, description="Tests: run rate-limit windows faster than real time")
    http_timeout_seconds: float = 30.0
    max_attempts: int = 4
    command_buffer_per_partition: int = Field(
        default=5000, description="Commands buffered per partition before its fetching pauses"
    )
    write_safe_window_seconds: float = Field(
        default=300.0,
        description="A keyed write whose answer was lost is sent again with its Idempotency-Key only "
        "this long after its first send (Xero keeps a key 360 s); later it is looked up first, or "
        "refused outcome_unknown. In Xero seconds: with clock_speed the real wait is shorter",
    )
    write_lookup_margin_seconds: float = Field(
        default=120.0, description="Lookups ask for records modified since the first send minus this"
    )
    write_attempts_retention_days: float = Field(
        default=30.0, description="Write attempts and record claims older than this are purged"
    )
    ledger_retention_days: float = Field(
        default=30.0, description="Action ledger entries (and their outputs) untouched this long are purged"
    )
    seen_keys_retention_days: float = Field(
        default=30.0, description="Webhook/poll dedupe keys older than this are purged"
    )
    invoice_snapshot_retention_days: float = Field(
        default=180.0,
        description="A sales invoice's last seen version (what Updated Sales Invoice's Change compares "
        "with) is forgotten after this long unseen; its next update then reports no change",
    )
    orphan_token_set_days: float = Field(
        default=1.0, description="Token sets no connection uses, untouched this long, are purged"
    )
    token_refresh_skew_seconds: float = 300.0
    refresh_lease_seconds: float = 30.0

    poll_enabled: bool = True
    poll_budget_share: float = Field(default=0.4, description="Share of the daily budget polling may use")
    poll_min_interval_seconds: float = 60.0
    poll_tick_seconds: float = 5.0
    reconcile_enabled: bool = True
    backfills_enabled: bool = True
    poll_disabled: list[str] = Field(default_factory=list, description="Poll names (domain.polls) not to run")
    poll_report_types: list[str] = Field(
        default_factory=lambda: ["ProfitAndLoss", "BalanceSheet"],
        description=(
            "Reports polled for every connection even when no zap chooses them (each costs one call "
            "per poll); the types New Report zaps choose are polled too: ProfitAndLoss, BalanceSheet, "
            "TrialBalance, BankSummary, BudgetSummary, ExecutiveSummary, TenNinetyNine (US organisations)"
        ),
    )

    @field_validator("poll_report_types")
    @classmethod
    def _pollable(cls, value: list[str]) -> list[str]:
        problems = [p for p in map(report_type_problem, value) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    attachment_url_allow_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts an attachment URL may name although they resolve to a loopback/private/reserved "
            "address, or with http (none by default; tests allow 127.0.0.1)"
        ),
    )
    attachment_max_bytes: int = Field(
        default=10_000_000, description="Largest file fetched for an attachment URL (Xero takes 10 MB)"
    )
    attachment_content_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CONTENT_TYPES),
        description="Content types an attachment URL may answer with (`type/*` allows a whole type)",
    )
    attachment_fetch_timeout_seconds: float = Field(
        default=20.0, description="Longest an attachment URL fetch may take (then a retryable error)"
    )

    @property
    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            allow_hosts=frozenset(h.lower() for h in self.attachment_url_allow_hosts),
            max_bytes=self.attachment_max_bytes,
            content_types=tuple(t.lower() for t in self.attachment_content_types),
            timeout_seconds=self.attachment_fetch_timeout_seconds,
        )

    @property
    def scopes(self) -> str:
        return LEGACY_SCOPES if self.legacy_scopes else GRANULAR_SCOPES
