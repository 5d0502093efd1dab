"""Operators: one pipeline step each."""
