"""HTTP endpoints for programs: the health check, and the /v1 REST API authenticated with API keys
(``key_auth.py``: the ``ApiKeyAuth`` dependency every /v1 route takes; ``problems.py``: errors as
application/problem+json; ``account.py``: ``GET /v1/account``)."""
