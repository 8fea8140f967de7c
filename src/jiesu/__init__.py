"""jiesu: grassroots dispute mediation and case tracking."""
