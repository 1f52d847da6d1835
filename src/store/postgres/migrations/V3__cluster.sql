-- Several `offboard serve` nodes on one database (engine::node). Followers learn of each
-- commit by `LISTEN offboard_log`: the trigger notifies with the new last position, and
-- PostgreSQL delivers it when the group's transaction commits (never before). Where to
-- forward commands is in cluster_leader, written by each node that becomes the leader.

CREATE FUNCTION offboard_notify_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('offboard_log', NEW.last_position::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER log_head_notify AFTER INSERT OR UPDATE ON log_head
    FOR EACH ROW EXECUTE FUNCTION offboard_notify_head();

-- One row: the advertised URL of the node that last took the writer lock.
CREATE TABLE cluster_leader (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    address text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
