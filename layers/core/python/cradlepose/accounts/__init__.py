"""People: registration, approval, roles, invitations, and the audit log admins read."""
