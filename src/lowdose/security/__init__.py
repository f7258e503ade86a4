"""Security: the access policy, passwords, tokens, second factor, login throttling, audit log."""
