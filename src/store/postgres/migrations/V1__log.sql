-- The log (store::postgres::log): events by global position, the command-id index, the
-- chain head, and named checkpoints. The writer decides positions, versions and hashes;
-- these tables only keep them. A position is never overwritten: the primary key is the
-- fence a second writer runs into.

CREATE TABLE log_events (
    position bigint PRIMARY KEY CHECK (position > 0),
    -- The event's canonical JSON, byte for byte as it was hashed.
    bytes bytea NOT NULL
);

CREATE TABLE log_commands (
    command_id uuid PRIMARY KEY,
    -- Hex SHA-256 of the command's canonical payload.
    fingerprint text NOT NULL,
    correlation_id uuid NOT NULL,
    -- The positions the command appended; both NULL when it appended nothing.
    first_position bigint,
    last_position bigint,
    CHECK ((first_position IS NULL) = (last_position IS NULL))
);

-- One row: the last position written and its hash, updated in the same transaction as
-- the events.
CREATE TABLE log_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_position bigint NOT NULL,
    last_hash text NOT NULL
);

CREATE TABLE checkpoints (
    name text PRIMARY KEY,
    bytes bytea NOT NULL
);
