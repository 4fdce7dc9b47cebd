"""What one expression may produce and do is bounded: over the size or step limit it fails as
an ExpressionError at once, never a MemoryError or a hang; ordinary expressions are unchanged."""

from __future__ import annotations

import time

import pytest

from sync_core.expression_limits import MAX_LENGTH, MAX_STEPS
from sync_core.expressions import (
    ExpressionError,
    compile_condition,
    compile_template,
    limit_problems,
)

RECORD = {"org_name": "Acme", "value": 1234.5, "tags": ["a", "b"], "record": {"x": 1}}
FAST = 5.0  # seconds; each of these ran out of memory or never ended before the limits


def _fails_fast(source: str) -> str:
    started = time.monotonic()
    with pytest.raises(ExpressionError) as caught:
        compile_template(source).render(RECORD)
    assert time.monotonic() - started < FAST
    return str(caught.value)


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'A' * 4000000000 }}",
        "{{ org_name * 100000000 }}",
        "{{ tags * 100000000 }}",
        "{{ (org_name * 30000) + (org_name * 30000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 'x' | center(1000000000) }}",
        "{{ ('x' * 90000).replace('x', 'x' * 90000) }}",
        "{{ ('x' * 90000) | replace('x', 'yy') }}",
        "{{ ('x' * 90000) | join('x' * 1000) }}",
        "{{ ('x\\n' * 40000) | indent(1000) }}",
        "{{ '%1000000000s' % org_name }}",
        "{{ '{:>1000000000}'.format(org_name) }}",
        "{{ '%s' | format(org_name) * 100000 }}",
        "{{ range(10000000) | list }}",
        "{{ lipsum(100000) }}",
    ],
)
def test_values_over_the_length_limit_are_refused_before_they_are_made(source: str) -> None:
    message = _fails_fast(source)
    assert f"{MAX_LENGTH:,}" in message


def test_a_huge_number_is_refused() -> None:
    assert "bits" in _fails_fast("{{ 9 ** 999999999 }}")


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{{ '' }}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
    ],
)
def test_work_over_the_step_budget_stops(source: str) -> None:
    assert f"{MAX_STEPS:,} steps" in _fails_fast(source)


def test_a_render_whose_output_passes_the_limit_stops() -> None:
    source = "{% for i in range(90) %}{{ org_name * 20000 }}{% endfor %}"
    assert "rendered value" in _fails_fast(source)


def test_a_condition_is_bounded_too() -> None:
    with pytest.raises(ExpressionError, match="limit"):
        compile_condition("org_name * 100000000 == 'x'").evaluate(RECORD)


def test_the_budget_is_per_evaluation() -> None:
    template = compile_template("{% for i in range(60000) %}{% endfor %}{{ org_name }}")
    for _ in range(3):  # 180,000 steps in all, 60,000 each time
        assert template.render(RECORD) == "Acme"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ org_name * 3 }}", "AcmeAcmeAcme"),
        ("{{ [1, 2] * 2 }}", [1, 2, 1, 2]),
        ("{{ value * 2 }}", 2469.0),
        ("{{ 2 ** 10 }}", 1024),
        ("{{ '%.2f' % value }}", "1234.50"),
        ("{{ '{:,}'.format(value) }}", "1,234.5"),
        ("{{ tags | join(', ') }}", "a, b"),
        ("{% for t in tags %}{{ t | upper }}{% endfor %}", "AB"),
        ("{{ org_name | replace('A', 'a') | center(8) }}", "  acme  "),
        ("{{ range(3) | list }}", [0, 1, 2]),
        ("{{ org_name ~ ' ' ~ value }}", "Acme 1234.5"),
    ],
)
def test_ordinary_expressions_are_unchanged(source: str, expected: object) -> None:
    assert compile_template(source).render(RECORD) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'A' * 4000000000 }}",
        "{{ range(10 ** 9) }}",
        "{{ 'x' | center(1000000000) }}",
        "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}",
    ],
)
def test_what_is_over_a_limit_on_every_record_is_seen_without_one(source: str) -> None:
    assert limit_problems(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "{{ org_name * 100000000 }}",  # depends on the record: refused when it runs
        "{{ 'x' * 10 }}",
        "{% for i in range(100) %}{% for j in range(100) %}x{% endfor %}{% endfor %}",
        "{{ value / 0 }}",
    ],
)
def test_what_may_be_fine_is_not_refused_statically(source: str) -> None:
    assert limit_problems(source) == []
