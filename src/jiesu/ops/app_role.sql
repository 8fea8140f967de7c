-- jiesu's application role on PostgreSQL (README, "Running in production", step 1).
--
-- The tables belong to the role that runs `jiesu migrate` (the owner). The servers connect as the
-- application role, which may read and write the data but owns nothing: only a table's owner (or a
-- superuser) can drop or disable its triggers, alter or drop it, and only a superuser can set
-- session_replication_role, so the application role cannot undo the audit log's append-only triggers.
-- On the audit tables it gets exactly what the chain needs: append events, move the head forward,
-- write and erase sealed texts. Apply it as the owner after every `jiesu migrate`:
--     jiesu db app-role jiesu_app          (or: psql -v role=jiesu_app -f app_role.sql, see below)
-- {role} is replaced by the role's quoted name.

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role};
REVOKE CREATE ON SCHEMA public FROM {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role};

-- the event log: read and append, never change or remove
REVOKE UPDATE, DELETE ON jiesu_case_event FROM {role};
-- the head: read, and lock and move by UPDATE (its trigger refuses a move backwards); never remove
REVOKE INSERT, DELETE ON jiesu_audit_head FROM {role};
-- sealed texts: written with their event, erased by UPDATE; never removed
REVOKE DELETE ON jiesu_event_text FROM {role};
-- the migrations' own bookkeeping belongs to the owner
REVOKE INSERT, UPDATE, DELETE ON migration FROM {role};
