"""Cases: the Case table, CaseService (the only code that changes a case) and the HTTP API."""
