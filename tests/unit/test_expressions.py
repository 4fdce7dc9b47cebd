"""Field mappings and conditions: the sandbox, native values, text that stays text."""

from __future__ import annotations

import pytest

from sync_core.expressions import ExpressionError, compile_condition, render_value


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("{{ value }}", {"value": 18000}, 18000),  # one expression keeps its type
        ("{{ zip }}", {"zip": "12345"}, "12345"),  # text is never re-read as a number
        ("{{ a }}{{ b }}", {"a": "1", "b": "2"}, "12"),
        ("{{ org }} – {{ title }}", {"org": None, "title": "Site"}, " – Site"),
        ("{{ person_email }}", {}, None),  # a field the vendor left out is empty, not "None"
        (
            "Deal value {{ value }} {{ currency }}",
            {"value": 5, "currency": "GBP"},
            "Deal value 5 GBP",
        ),
        ("{{ Contact.ContactID }}", {"Contact": {"ContactID": "c-1"}}, "c-1"),
        (["client"], {}, ["client"]),
        ("plain text", {}, "plain text"),
    ],
)
def test_rendering(template: object, context: dict[str, object], expected: object) -> None:
    assert render_value(template, context) == expected


@pytest.mark.parametrize(
    "template",
    ["{{ x.__class__ }}", "{{ x.__class__.__mro__[1].__subclasses__() }}", "{{ f.__globals__ }}"],
)
def test_the_sandbox_refuses_internals(template: str) -> None:
    with pytest.raises(ExpressionError, match="unsafe"):
        render_value(template, {"x": 1, "f": render_value})


def test_conditions() -> None:
    won = compile_condition("status == 'won' and value > 1000")
    assert won.evaluate({"status": "won", "value": 5000})
    assert not won.evaluate({"status": "open", "value": 5000})
    assert not won.evaluate({})  # missing fields are None, not an error
    with pytest.raises(ExpressionError):
        compile_condition("status ==")


@pytest.mark.parametrize(
    ("template", "context", "kind"),
    [
        ("{{ value / 0 }}", {"value": 5}, "ZeroDivisionError"),
        ('{{ value + "x" }}', {"value": 5}, "TypeError"),
        ("{{ Client code }}", {}, "expected token"),
        ("{{ x.__class__ }}", {"x": 1}, "unsafe"),
    ],
)
def test_whatever_an_expression_raises_leaves_as_an_expression_error(
    template: str, context: dict[str, object], kind: str
) -> None:
    with pytest.raises(ExpressionError, match=kind) as raised:
        render_value(template, context)
    assert raised.value.expression == template


def test_a_condition_that_fails_when_evaluated_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="ZeroDivisionError") as raised:
        compile_condition("value / 0 > 1").evaluate({"value": 1})
    assert raised.value.expression == "value / 0 > 1"
