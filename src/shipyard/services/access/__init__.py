"""Who may do what: users and tokens, roles, secrets and the audit log (issue 10)."""
