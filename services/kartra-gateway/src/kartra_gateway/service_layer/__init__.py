"""Use cases: the webhook intake and the command executor, composed from domain and adapters."""
