"""Offline tools that read a ShaleDB data directory without modifying it."""
