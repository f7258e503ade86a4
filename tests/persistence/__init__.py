"""Persistence tests: store, security and services on SQLite and PostgreSQL."""
