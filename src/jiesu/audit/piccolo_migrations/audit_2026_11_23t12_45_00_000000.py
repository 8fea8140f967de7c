"""The event log is append-only: the database refuses UPDATE and DELETE (and TRUNCATE) of events,
and any move of the head row backwards."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from jiesu.db import current_engine

ID = "2026-11-23T12:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "append-only event log"

SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS jiesu_case_event_no_update BEFORE UPDATE ON jiesu_case_event
    BEGIN SELECT RAISE(ABORT, 'jiesu_case_event is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS jiesu_case_event_no_delete BEFORE DELETE ON jiesu_case_event
    BEGIN SELECT RAISE(ABORT, 'jiesu_case_event is append-only: DELETE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS jiesu_audit_head_forward BEFORE UPDATE ON jiesu_audit_head
    WHEN NEW.seq < OLD.seq
    BEGIN SELECT RAISE(ABORT, 'jiesu_audit_head only moves forward'); END""",
    """CREATE TRIGGER IF NOT EXISTS jiesu_audit_head_no_delete BEFORE DELETE ON jiesu_audit_head
    BEGIN SELECT RAISE(ABORT, 'jiesu_audit_head cannot be deleted'); END""",
]

POSTGRES = [
    """CREATE OR REPLACE FUNCTION jiesu_refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'jiesu_case_event is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER jiesu_case_event_append_only BEFORE UPDATE OR DELETE ON jiesu_case_event
    FOR EACH ROW EXECUTE FUNCTION jiesu_refuse_event_change()""",
    """CREATE TRIGGER jiesu_case_event_no_truncate BEFORE TRUNCATE ON jiesu_case_event
    FOR EACH STATEMENT EXECUTE FUNCTION jiesu_refuse_event_change()""",
    """CREATE OR REPLACE FUNCTION jiesu_audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'UPDATE' OR NEW.seq < OLD.seq THEN
            RAISE EXCEPTION 'jiesu_audit_head only moves forward: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER jiesu_audit_head_forward BEFORE UPDATE OR DELETE ON jiesu_audit_head
    FOR EACH ROW EXECUTE FUNCTION jiesu_audit_head_guard()""",
    """CREATE TRIGGER jiesu_audit_head_no_truncate BEFORE TRUNCATE ON jiesu_audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION jiesu_audit_head_guard()""",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)

    async def create_triggers() -> None:
        engine = current_engine()
        for statement in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(statement)

    manager.add_raw(create_triggers)
    return manager
