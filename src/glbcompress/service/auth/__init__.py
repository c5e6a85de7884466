"""Who is asking: accounts and passwords, browser sessions, CSRF tokens, API keys, rate limits.

- ``passwords.py``: Argon2id hashing and the password and email rules.
- ``accounts.py``: sign up, log in, change password, delete an account (with its data).
- ``sessions.py``: the session cookie and its row; ``csrf.py``: tokens for every form.
- ``throttle.py``: rate limits counted in the database (shared by every web process).
- ``api_keys.py``: API keys (format, checksum, hash, create, revoke, check); ``key_activity.py``
  counts their requests and last use without a write per request; ``key_rate_limit.py`` limits
  requests per key.
"""
