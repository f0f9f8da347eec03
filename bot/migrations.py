"""The database schema, one forward step per entry (tracked with ``PRAGMA user_version``).

Never edit an entry that has shipped: add a new one. Statements are separated by ``;``.
"""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id        TEXT UNIQUE,
        guild_id          INTEGER,
        channel_id        INTEGER NOT NULL,
        user_id           INTEGER NOT NULL,
        status_message_id INTEGER,
        model             TEXT NOT NULL,
        params_json       TEXT NOT NULL,
        payload_json      TEXT NOT NULL,
        origin            TEXT NOT NULL DEFAULT 'generate',
        parent_job_id     INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        estimated_cost    REAL NOT NULL DEFAULT 0,
        state             TEXT NOT NULL,
        provider_status   TEXT,
        error             TEXT,
        result_url        TEXT,
        thumbnail_url     TEXT,
        result_message_id INTEGER,
        delivered_via     TEXT,
        attempts          INTEGER NOT NULL DEFAULT 0,
        poll_count        INTEGER NOT NULL DEFAULT 0,
        created_at        REAL NOT NULL,
        updated_at        REAL NOT NULL,
        submitted_at      REAL,
        finished_at       REAL,
        delivered_at      REAL,
        next_check_at     REAL,
        deadline_at       REAL NOT NULL
    );
    CREATE INDEX jobs_due ON jobs (next_check_at) WHERE next_check_at IS NOT NULL;
    CREATE INDEX jobs_by_user ON jobs (user_id, created_at);
    CREATE INDEX jobs_by_guild ON jobs (guild_id, created_at);
    """,
]
