"""Users, roles, jurisdictions, login, tokens and guards."""
