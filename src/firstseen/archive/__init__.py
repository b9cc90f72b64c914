"""The embedded archive: SQLite catalog, FAISS vector index, thumbnails, and adding media."""
