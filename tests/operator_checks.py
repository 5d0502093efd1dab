"""Checks every operator test makes."""

from __future__ import annotations


def validate_template_fields(operator) -> None:
    """Every templated field is an attribute the constructor set (the provider's test helper, inlined)."""
    fields = [*operator.template_fields, *operator.template_fields_renderers]
    missing = [field for field in fields if field not in operator.__dict__]
    assert not missing, f"Templated fields are not available {missing}"
