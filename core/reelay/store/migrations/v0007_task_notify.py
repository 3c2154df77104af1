"""PostgreSQL: ``NOTIFY reelay_task_changed`` with a task's id whenever its status or progress
changes, whoever wrote it (``reelay.store.changes`` listens). SQLite has no such channel: nothing to do.

Earlier releases installed the function and trigger on start-up, outside the
migrations: the function is replaced and the trigger made anew.
"""

SQLITE = ""

POSTGRES = """
CREATE OR REPLACE FUNCTION reelay_task_notify() RETURNS trigger AS $f$
BEGIN PERFORM pg_notify('reelay_task_changed', NEW.id); RETURN NEW; END $f$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS reelay_task_notify ON tasks;
CREATE TRIGGER reelay_task_notify AFTER UPDATE ON tasks FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.progress IS DISTINCT FROM NEW.progress)
    EXECUTE FUNCTION reelay_task_notify();
"""
