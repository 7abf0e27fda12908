"""A stateful fake Xero for tests and the demo.

Run it standalone with ``uv run python -m kxflow_sandboxes.xero --port 8130``; build it in tests
with ``create_app(SandboxConfig(...))``.

What it serves, as Xero does (see ``../shared/reference/xero.md``):

* Identity: ``GET /identity/connect/authorize`` (auto-consent: redirects straight back to
  ``redirect_uri`` with ``code`` and ``state``; optional ``tenants=<id,id>`` picks the organisations),
  ``POST /connect/token`` (authorization_code, refresh_token with rotation and a 30-minute grace
  for the previous token, client_credentials for custom connections; ``invalid_grant`` once
  revoked), ``POST /connect/revocation``, ``GET /Connections``.
* Accounting (``/api.xro/2.0``), Payroll AU (``/payroll.xro/1.0``) and Projects
  (``/projects.xro/2.0``) resources the kxflow actions and triggers touch, with Xero's envelopes,
  ``/Date(ms+0000)/`` dates, ``ValidationException`` bodies, the plain-text 404, the 401/403 problem
  bodies, ``If-Modified-Since``, ``where``, paging, PDF via ``Accept: application/pdf``.
* Every API request is validated against the official OpenAPI documents (``XERO_OPENAPI_DIR``);
  a request the document rejects gets a 400 ``PostDataInvalidException`` and is counted.
* Rate limits: 60/min, 5,000/day (settable per organisation) and 5 concurrent per organisation,
  10,000/min per app, on a virtual clock whose speed is settable; ``X-*Limit-Remaining`` headers;
  429 with ``Retry-After`` and ``X-Rate-Limit-Problem``.
* ``Idempotency-Key`` replay for 6 (virtual) minutes (``SandboxConfig.idempotency_window``,
  ``--idempotency-window``); a reused key with another request is a 400.
* ``createdByMyApp=true`` on ``GET /Invoices``: only invoices the calling app (client id) created.
* Webhooks: signed deliveries (``x-xero-signature``) of INVOICE, CONTACT and CREDITNOTE events to
  the configured URL after each write; intent-to-receive on demand.

Control API (not part of Xero):

* ``GET /_sandbox/stats`` — requests, api_calls, rate_limited (429s), openapi_rejections (+ reasons),
  idempotent_replays, refresh_calls, token_calls, webhook deliveries/failures, per-tenant counts.
* ``GET /_sandbox/calls/{tenantId}`` — virtual times of accepted calls (budget utilisation).
* ``GET /_sandbox/requests`` — recent requests (method, path, query, Idempotency-Key, tenant, Accept;
  ``at`` wall time received, ``ms`` time spent answering).
* ``POST /_sandbox/clock`` ``{"speed": 60}`` and/or ``{"advance": 1800}`` (virtual seconds).
* ``GET|POST /_sandbox/orgs`` — list or add organisations; ``POST /_sandbox/orgs/{id}/limits``
  ``{"per_day": 1000}``; ``POST /_sandbox/orgs/{id}/payruns`` — a posted pay run with payslips.
* ``POST /_sandbox/revoke`` ``{"tenantId": …}`` — revoke the grants (refresh → ``invalid_grant``).
* ``POST /_sandbox/fail`` ``{"status": 503, "count": 1, "path_contains": "/Invoices"}``; with
  ``"delay_s": 8`` the call is held first (a time-out for a client that gives up sooner; without
  ``status`` it is then handled normally), with ``{"lose_answer": true, "delay_s": 8}`` it is
  handled at once and only its answer is held ("created, but the answer was lost"). Served faults
  are counted in ``/_sandbox/stats`` ``injected_faults``.
* ``POST /_sandbox/webhooks`` ``{"url": …, "enabled": true}``; ``POST /_sandbox/webhooks/itr``.
"""

from kxflow_sandboxes.xero.app import Sandbox, SandboxConfig, create_app

__all__ = ["Sandbox", "SandboxConfig", "create_app"]
