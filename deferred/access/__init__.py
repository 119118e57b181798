"""Who may do what: identities, roles, passwords, tokens and the audit log."""
