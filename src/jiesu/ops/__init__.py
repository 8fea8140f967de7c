"""Operations: structured logs, request ids, Prometheus metrics, backups."""
