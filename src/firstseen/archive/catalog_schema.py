"""The catalog's tables, and the migrations that bring a catalog made by an earlier release up to
date, so that archives made before still open."""

import sqlite3

# Each table's columns, by name: the schema below, and the definition a migration rebuilds with.
_TABLES = {
    "items": """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'video')),
    path TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    duration REAL,
    bytes INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'media' CHECK (origin IN ('media', 'vpdq'))
""",
    "frames": """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    time REAL,
    pdq BLOB NOT NULL,
    pdq_quality INTEGER NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (item_id, ordinal)
""",
    "sightings": """
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    url TEXT,
    title TEXT,
    published TEXT,
    seen_at TEXT NOT NULL,
    UNIQUE (item_id, path, url, title, published)
""",
    "parts": """
    id INTEGER PRIMARY KEY,  -- the frame's id x 16 + the part's place (archive/parts.py)
    frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
    vector BLOB NOT NULL
""",
    "meta": "key TEXT PRIMARY KEY, value TEXT NOT NULL",
    # What each revision added to or removed from the vector indexes, as ranges of ids (both ends
    # included), so an index that reflects an earlier revision catches up by these rows alone.
    "vector_log": """
    revision INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('frames', 'parts')),
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    removed INTEGER NOT NULL CHECK (removed IN (0, 1))
""",
}
SCHEMA = "".join(f"CREATE TABLE IF NOT EXISTS {n} ({c});\n" for n, c in _TABLES.items()) + (
    "CREATE INDEX IF NOT EXISTS frames_item ON frames(item_id);\n"
    "CREATE INDEX IF NOT EXISTS sightings_item ON sightings(item_id);\n"
    "CREATE INDEX IF NOT EXISTS parts_frame ON parts(frame_id);\n"
    "CREATE INDEX IF NOT EXISTS vector_log_revision ON vector_log(revision);\n"
)
# What the reads a command or a request makes filter by, so that none reads a whole table of
# millions: made after the migrations, which may first add a column they cover (`origin`).
INDEXES = (
    # the model claim: one described frame, or none (ids only, and only of described frames)
    "CREATE INDEX IF NOT EXISTS frames_described ON frames(id) WHERE length(vector) > 0;\n"
    # hash-only frames, and pages of one kind
    "CREATE INDEX IF NOT EXISTS items_origin ON items(origin);\n"
    "CREATE INDEX IF NOT EXISTS items_kind ON items(kind);\n"
    # items named by a path they were seen at; items by publication date
    "CREATE INDEX IF NOT EXISTS sightings_path ON sightings(path, item_id);\n"
    "CREATE INDEX IF NOT EXISTS sightings_published ON sightings(published, item_id);\n"
)
# meta key: the revision from which the vector log is complete (the catalog's revision when the
# log was added to it; 0 for a catalog made with it).
LOG_FROM = "vector_log_from"
# Columns added since the first release, for catalogs made before them: (table, column, definition).
_ADDED_COLUMNS = (
    ("items", "origin", "TEXT NOT NULL DEFAULT 'media' CHECK (origin IN ('media', 'vpdq'))"),
)
# Tables whose ids were reused before AUTOINCREMENT; catalogs made then are rebuilt once.
_UNIQUE_IDS = ("items", "frames")


def migrate(db: sqlite3.Connection) -> None:
    """Brings a catalog made by an earlier release up to date. Each step is checked again under
    the write lock, as another process may be taking it at the same time."""
    for table, column, definition in _ADDED_COLUMNS:
        if column in _columns(db, table):
            continue
        with db:
            db.execute("BEGIN IMMEDIATE")
            if column not in _columns(db, table):
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
    if not all(_ids_unique(db, t) for t in _UNIQUE_IDS):
        _make_ids_unique(db)
    _start_log(db)
    db.executescript(INDEXES)


def _start_log(db: sqlite3.Connection) -> None:
    """Records from which revision on the vector log is complete: a catalog made before the log
    existed has none of its earlier changes in it."""
    if db.execute("SELECT 1 FROM meta WHERE key = ?", (LOG_FROM,)).fetchone():
        return
    with db:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT OR IGNORE INTO meta (key, value) SELECT ?, COALESCE("
            "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'revision'), 0)",
            (LOG_FROM,),
        )


def _make_ids_unique(db: sqlite3.Connection) -> None:
    """Rebuilds the tables whose ids could be reused with AUTOINCREMENT, rows unchanged
    (SQLite's documented way to change a table's definition): foreign keys are off while the
    referenced tables are replaced, and checked before the change commits."""
    db.execute("PRAGMA foreign_keys=OFF")
    try:
        with db:
            db.execute("BEGIN IMMEDIATE")
            for table in _UNIQUE_IDS:
                if not _ids_unique(db, table):
                    _rebuild(db, table)
            if db.execute("PRAGMA foreign_key_check").fetchall():
                raise sqlite3.DatabaseError("references broken by the migration to unique ids")
    finally:
        db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)  # the indexes dropped with the old tables


def _rebuild(db: sqlite3.Connection, table: str) -> None:
    columns = ", ".join(_columns_in_order(db, table))
    new = f"{table}_unique_ids"
    db.execute(f"CREATE TABLE {new} ({_TABLES[table]})")
    db.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {new} RENAME TO {table}")


def _ids_unique(db: sqlite3.Connection, table: str) -> bool:
    row = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return "AUTOINCREMENT" in row[0].upper()


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return set(_columns_in_order(db, table))


def _columns_in_order(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
