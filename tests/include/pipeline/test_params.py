"""The trigger form's definitions, read as Airflow's form reads them.

These run without a browser (tests/live/test_trigger_form.py checks the rendered form), so that
``make test-fast`` catches a param out of its section, a select that would show ``null`` or a raw description.
"""

from __future__ import annotations

import itertools

from nova_dpo.pipeline.params import SECTIONS, param_definitions


def test_sections_come_one_after_another_in_pipeline_order():
    # The form shows a section where its first param comes, and every param of it there.
    sections = [definition["section"] for definition in param_definitions().values()]
    assert [section for section, _ in itertools.groupby(sections)] == list(SECTIONS)


def test_a_select_with_an_empty_choice_labels_it():
    for name, definition in param_definitions().items():
        if None in definition.get("enum", []):
            assert definition["values_display"]["null"], name


def test_descriptions_are_markdown_for_the_form():
    # A plain description is shown as text, backticks and all; the form renders description_md.
    for name, definition in param_definitions().items():
        assert "description" not in definition, name
        assert definition["description_md"], name
