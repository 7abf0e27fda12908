"""What the deployment files must agree with: each service's port, env prefix, consumer group and
the fields of its settings class (read from the code, so a renamed setting fails the deploy tests)."""

from __future__ import annotations

SERVICES: dict[str, tuple[int, str, str]] = {
    # service → (HTTP port, env prefix, consumer group)
    "router": (8010, "ROUTER_", "kxflow-router"),
    "kartra-gateway": (8020, "KARTRA_GW_", "kxflow-kartra-gateway"),
    "xero-gateway": (8030, "XERO_GW_", "kxflow-xero-gateway"),
}
GATEWAYS = frozenset({"kartra-gateway", "xero-gateway"})


def settings_fields() -> dict[str, set[str]]:
    """Field names of each service's pydantic-settings class (env var = prefix + NAME)."""
    from kartra_gateway.settings import GatewaySettings
    from xero_gateway.settings import XeroGatewaySettings
    from zap_router.settings import RouterSettings

    return {
        "router": set(RouterSettings.model_fields),
        "kartra-gateway": set(GatewaySettings.model_fields),
        "xero-gateway": set(XeroGatewaySettings.model_fields),
    }


def unknown_settings(service: str, env_names: list[str], fields: dict[str, set[str]]) -> list[str]:
    """Env vars that no setting of ``service`` reads (pydantic-settings would ignore them silently)."""
    prefix = SERVICES[service][1]
    return [
        n
        for n in env_names
        if not n.startswith(prefix) or n.removeprefix(prefix).lower() not in fields[service]
    ]
