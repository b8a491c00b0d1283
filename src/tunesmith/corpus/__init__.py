"""Corpora: the bundled collections and the user's own files, cleaned alike."""
