"""HTTP endpoints for programs: the health check now; the /v1 REST API (API keys) builds here."""
