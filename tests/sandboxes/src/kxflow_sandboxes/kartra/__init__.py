"""A stateful fake Kartra (reference §1, §5.3) for tests and the demo.

Inbound API, as Kartra: ``POST /api`` (and ``/api/``), PHP bracket form fields
(``app_id``, ``api_key``, ``api_password``, ``lead[...]``, ``actions[n][cmd]``, ``get_lead[...]``),
always HTTP 200 with ``{"status", "message", "type"}`` (``type`` a string; chained answers in
``actions[i].<cmd>``), every documented error code (203 bad key, 233 bad password, 239 bad app,
243/234 lead not found, 244 lead exists, 212 tag missing, 231 list missing, 247/248…), and HTTP 429
above 20 calls per second per App. State changes fire outbound webhooks (JSON
``{lead, action, action_details}``) to the App's registered URLs, and sales/refunds/cancellations
also post an IPN form (with ``N/A`` placeholders and ``secret_key``) to its IPN URL.

Control API for tests and the demo (not part of Kartra):

* ``POST /_sandbox/apps`` ``{app_id?, api_key?, api_password?, test_mode?}`` → 201
  ``{app_id, api_key, api_password}``: a new App with a seeded account (tags Customer/VIP/Refunded,
  lists Newsletter/Buyers, sequences Welcome (steps 1–3)/Onboarding, calendar "First calendar" with
  classes "First class"/"Second class", custom field ``vat_number``, product 223 "Pro Course").
* ``POST /_sandbox/webhooks`` ``{app_id, url?, ipn_url?, ipn_secret?}``: register the gateway's
  webhook URL (outbound API) and/or IPN URL + secret for the App.
* ``POST /_sandbox/simulate/purchase`` ``{app_id, email, first_name?, last_name?, product_id="223",
  price_point="2", amount?, quantity=1, recurring=false}``: sell a product (creating the lead if
  needed); fires ``buy_product`` and an IPN ``sale`` and waits for the deliveries →
  ``{lead_id, transaction_id, subscription_id, amount, deliveries: [{url, kind, action, status}]}``.
* ``POST /_sandbox/simulate/event`` ``{app_id, action, email, action_details}``: fire any outbound event.
* ``GET /_sandbox/calls?app_id=`` → ``{calls: [{app_id, cmds, http_status, status, type, at}],
  counters: {calls, rate_limited}}``.
* ``GET /_sandbox/deliveries`` (waits for pending ones) and ``GET /_sandbox/apps/{app_id}/leads``.

Standalone: ``uv run python -m kxflow_sandboxes.kartra --port 8120``; in-process: ``create_app()``
(its ``app.state.sandbox`` is the :class:`Sandbox`).
"""

from kxflow_sandboxes.kartra.app import Sandbox, create_app

__all__ = ["Sandbox", "create_app"]
