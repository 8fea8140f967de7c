"""Mediation of disputes: parties and consent, mediators and recusal, sessions, written agreements,
judicial-confirmation countdown, performance checks and the mediation clock."""
