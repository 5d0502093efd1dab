"""Triggers: async waits that run in the triggerer while a deferred task holds no worker slot."""
