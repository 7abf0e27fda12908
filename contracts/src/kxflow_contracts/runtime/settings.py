"""Settings every service has; each service subclasses with its own env prefix."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kxflow_contracts.runtime.connections import KafkaConnection, kafka_connection
from kxflow_contracts.topics import DEFAULT_PREFIX, Topics


def parse_token_map(value: object) -> dict[str, str]:
    """``"tokenA:tenant1,tokenB:tenant2"`` (or a JSON object / dict) → {token: tenant}."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if not value:
        return {}
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return parse_token_map(json.loads(value))
    out: dict[str, str] = {}
    for item in str(value).split(","):
        item = item.strip()
        if not item:
            continue
        token, sep, tenant = item.rpartition(":")
        if not sep or not token or not tenant:
            raise ValueError(f"API token entry must be token:tenant, got {item[:4]}…")
        out[token] = tenant
    return out


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_nested_delimiter="__")

    service_name: str = "kxflow"
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:19092", description="Kafka brokers")
    topic_prefix: str = Field(default=DEFAULT_PREFIX, description="prefix of every topic name (DESIGN §2)")
    topic_partitions: int = Field(default=12, description="partitions when the service creates a topic")
    ensure_topics: bool = Field(
        default=True,
        description="create missing topics at start (off when topics are managed, e.g. Strimzi KafkaTopic)",
    )
    mongodb_url: str = Field(
        default="mongodb://127.0.0.1:27027/?directConnection=true", description="MongoDB (or FerretDB) URL"
    )
    mongodb_database: str = ""
    # Transport security and credentials (issue 11, item 9); built into clients only by
    # runtime.connections. Passwords are SecretStr: never in a repr, a log line or an error text.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="`SASL_SSL` in production: SCRAM over TLS"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism (with a `SASL_*` protocol)"
    )
    kafka_sasl_username: str = Field(default="", description="this service's Kafka principal")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="its password (from a Kubernetes Secret; never logged)"
    )
    kafka_ssl_cafile: str | None = Field(
        default=None, description="PEM CA bundle that signed the brokers' certificates (unset: system CAs)"
    )
    kafka_ssl_certfile: str | None = Field(default=None, description="client certificate (mutual TLS only)")
    kafka_ssl_keyfile: str | None = Field(default=None, description="its private key (mutual TLS only)")
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="verify the broker's name against its certificate"
    )
    mongodb_tls: bool = Field(default=False, description="TLS to MongoDB (or set `tls=true` in the URL)")
    mongodb_tls_ca_file: str | None = Field(
        default=None, description="PEM CA bundle of MongoDB's certificate"
    )
    mongodb_tls_certificate_key_file: str | None = Field(
        default=None, description="client certificate and key, one PEM (X.509 auth / mutual TLS only)"
    )
    mongodb_username: str = Field(default="", description="MongoDB user (unset: as the URL says)")
    mongodb_password: SecretStr | None = Field(
        default=None, description="its password (from a Kubernetes Secret; never logged)"
    )
    mongodb_auth_source: str = Field(default="admin", description="database holding the user")
    mongodb_auth_mechanism: str = Field(default="", description="e.g. `SCRAM-SHA-256` (unset: negotiated)")
    # NoDecode: env value "token:tenant,..." (or JSON) is parsed by the validator, not as JSON first.
    api_tokens: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="token:tenant,token:tenant"
    )
    secret_keys: str = Field(
        default="",
        description="Comma-separated Fernet keys; the first encrypts, all decrypt (rotation)",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint (e.g. `http://otel-collector:4318/v1/traces`); "
        "unset = no export",
    )
    log_level: str = "INFO"
    log_json: bool = Field(default=True, description="JSON lines (false: console format for development)")
    http_host: str = Field(default="127.0.0.1", description="listen address (`0.0.0.0` in containers)")
    http_port: int = 8000
    min_api_token_length: int = Field(
        default=16, description="Shorter API tokens are refused at start (guessable)"
    )
    admin_max_body_bytes: int = Field(
        default=256 * 1024, description="Request bodies over this answer 413 (runtime.limits)"
    )
    admin_rate_per_second: float = Field(
        default=20.0, description="Requests per second per bearer token (0 = no limit); over it: 429"
    )
    admin_rate_burst: int = Field(default=40, description="Requests a bearer token may make at once")
    store_command_metrics: bool = Field(
        default=False,
        description="count every MongoDB command (`kxflow_store_commands_total`; `make bench` turns it on)",
    )
    retention_interval_seconds: float = Field(
        default=3600.0, description="How often expired ledgers, seen keys and states are purged"
    )

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: object) -> dict[str, str]:
        return parse_token_map(value)

    @model_validator(mode="after")
    def _long_tokens(self) -> ServiceSettings:
        short = [t for t in self.api_tokens if len(t) < self.min_api_token_length]
        if short:
            raise ValueError(
                f"{len(short)} API token(s) shorter than {self.min_api_token_length} characters "
                f"(tenants: {sorted({self.api_tokens[t] for t in short})}); use long random tokens"
            )
        return self

    def admin_limits(self) -> dict[str, float | int]:
        """The keyword arguments of :class:`kxflow_contracts.runtime.limits.AdminLimits`."""
        return {
            "max_body_bytes": self.admin_max_body_bytes,
            "rate_per_second": self.admin_rate_per_second,
            "burst": self.admin_rate_burst,
        }

    @property
    def kafka(self) -> KafkaConnection:
        """How this service reaches Kafka (``runtime.connections``)."""
        return kafka_connection(self)

    def secret_values(self) -> list[str]:
        """Every secret in the settings, for the log redactor (``configure_logging(secrets=...)``):
        every ``SecretStr`` field (passwords), API tokens, encryption keys, and a password embedded in
        the MongoDB URL."""
        fields = [getattr(self, name) for name in type(self).model_fields]
        values = [f.get_secret_value() for f in fields if isinstance(f, SecretStr)]
        values += list(self.api_tokens)
        values += [k.strip() for k in self.secret_keys.split(",") if k.strip()]
        userinfo = self.mongodb_url.partition("://")[2].partition("@")
        if userinfo[1]:
            values.append(userinfo[0].partition(":")[2])
        return [v for v in values if v]

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)
