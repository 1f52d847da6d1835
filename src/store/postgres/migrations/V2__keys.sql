-- Personal-data keys (privacy::pg_shelf). Every key here is wrapped (XChaCha20-Poly1305)
-- by the key-encryption key kept on the nodes, never in the database, with its slot as
-- associated data: a dump, a replica or a backup alone cannot read a key, and a row
-- copied onto another user's does not unwrap there. A purge DELETEs the user's row; the
-- old row lives on in WAL, replicas and backups until they expire (README).

-- One row: the id (a hash) of the KEK the keys are wrapped with, so a wrong KEK is told
-- apart from damaged rows.
CREATE TABLE key_meta (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    kek_id text NOT NULL
);

CREATE TABLE user_keys (
    user_id uuid PRIMARY KEY,
    wrapped bytea NOT NULL
);

-- The current checkpoint's key and the one a save in progress writes under.
CREATE TABLE checkpoint_keys (
    slot text PRIMARY KEY CHECK (slot IN ('current', 'next')),
    wrapped bytea NOT NULL
);

-- Users whose keys an import knowingly went without (their profiles read as erased).
CREATE TABLE withheld_keys (
    user_id uuid PRIMARY KEY
);
