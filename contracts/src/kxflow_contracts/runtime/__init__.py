"""Plumbing every kxflow service needs, written once (install ``kxflow-contracts[runtime]``).

Kafka producer/consumer settings and the DLQ middleware (``kafka``), the action ledger
(``ledger``), a time-windowed seen-key store (``dedupe``), bearer-token tenancy (``auth``),
encryption of credentials at rest (``secrets``), structured logs with redaction (``logging``),
tracing (``telemetry``), health and metrics routes (``http``) and common settings (``settings``).

This is a deliberate departure from DESIGN.md §1's "nothing else is shared": the standards also
say never to write the same logic twice, and the ledger or the DLQ rules written three times would
drift. Everything here is infrastructure; no service's domain logic lives in this package.
"""
