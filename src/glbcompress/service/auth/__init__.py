"""Who is asking: accounts and passwords, browser sessions, CSRF tokens, rate limits.

- ``passwords.py``: Argon2id hashing and the password and email rules.
- ``accounts.py``: sign up, log in, change password, delete an account (with its data).
- ``sessions.py``: the session cookie and its row; ``csrf.py``: tokens for every form.
- ``throttle.py``: rate limits counted in the database (shared by every web process).
"""
