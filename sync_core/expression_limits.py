"""How much one expression may produce and do: the bounded sandbox the map's expressions run in.

Jinja's sandbox stops an expression from reaching Python internals, not from exhausting the
process: ``'A' * 4000000000`` asks for 4 GB, nested ``range(100000)`` loops never end. Here
every operation that can grow a value is checked *before* it runs against :data:`MAX_LENGTH`,
and every loop iteration, call and checked operator spends one step of a budget of
:data:`MAX_STEPS` per evaluation. Going over either raises :class:`LimitExceeded`, which the
expression boundary (:mod:`sync_core.expressions`) reports like any other failing expression.
``handoff check`` folds what is constant in an expression and refuses it when it is over a
limit (:func:`static_limit_problems`). docs/map.md documents both numbers.
"""

from __future__ import annotations

import contextlib
import operator as ops
import re
from collections.abc import Callable, Iterable, Iterator, Sized
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.environment import Environment
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

MAX_LENGTH = 100_000  # characters of a text, items of a list, of one value or one render
MAX_STEPS = 100_000  # loop iterations + calls + checked operators, per evaluation
_MAX_INT_BITS = 4 * MAX_LENGTH  # a number of more than ~120,000 digits is not a field value

# The global every ``{% for %}`` loop's iterable is passed through (see _count_loops).
_LOOP = "handoff_counted_loop"
_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?|\{[^{}]*?:[^{}]*?(\d+)[^{}]*\}")


class LimitExceeded(SecurityError):
    """An expression went over :data:`MAX_LENGTH` or :data:`MAX_STEPS`."""


@dataclass
class _Budget:
    steps: int = MAX_STEPS

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise LimitExceeded(
                f"the expression took more than {MAX_STEPS:,} steps (loops, calls, operators)"
            )


_budget: ContextVar[_Budget | None] = ContextVar("expression_budget", default=None)


@contextlib.contextmanager
def budget() -> Iterator[None]:
    """A fresh step budget for one evaluation (nested evaluations share the outer one)."""
    if _budget.get() is not None:
        yield
        return
    token = _budget.set(_Budget())
    try:
        yield
    finally:
        _budget.reset(token)


def _spend() -> None:
    current = _budget.get()
    if current is not None:
        current.spend()


def _too_long(what: str, size: int) -> LimitExceeded:
    return LimitExceeded(f"{what} would be {size:,} long; the limit is {MAX_LENGTH:,}")


def check_length(value: Any, what: str = "the result") -> Any:
    """``value`` unchanged, or :class:`LimitExceeded` when it is a text or collection over
    :data:`MAX_LENGTH`."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > _MAX_INT_BITS:
            raise LimitExceeded(f"{what} is a number of more than {_MAX_INT_BITS:,} bits")
    elif isinstance(value, str | bytes | list | tuple | dict | set | range) and (
        len(value) > MAX_LENGTH
    ):
        raise _too_long(what, len(value))
    return value


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple | range) else None


def _predict_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left operator right`` before computing it when its result is over a limit."""
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            size = _length(seq)
            if size is not None and isinstance(times, int) and size * max(times, 0) > MAX_LENGTH:
                raise _too_long(f"{type(seq).__name__} * {times:,}", size * times)
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > _MAX_INT_BITS
        ):
            raise LimitExceeded(f"the product is a number of more than {_MAX_INT_BITS:,} bits")
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if right * left.bit_length() > _MAX_INT_BITS:
                raise LimitExceeded(f"the power is a number of more than {_MAX_INT_BITS:,} bits")
        elif isinstance(left, float | int) and isinstance(right, float | int):
            pass  # floats overflow to an OverflowError, which is reported as it is
    elif operator == "+":
        left_size, right_size = _length(left), _length(right)
        if left_size is not None and right_size is not None and left_size + right_size > MAX_LENGTH:
            raise _too_long("the sum", left_size + right_size)
    elif operator == "%" and isinstance(left, str):
        _check_format(left, right if isinstance(right, tuple) else (right,))


def _check_format(template: str, args: Iterable[Any]) -> None:
    """Refuse a %-format or str.format whose widths would pad past the limit."""
    widths = 0
    for match in _FORMAT_WIDTH.finditer(template):
        for group in match.groups():
            if group and group.isdigit():
                widths += int(group)
    if "*" in template:
        widths += sum(a for a in args if isinstance(a, int) and not isinstance(a, bool))
    if len(template) + widths > MAX_LENGTH:
        raise _too_long("the formatted text", len(template) + widths)


def _predict_str_method(name: str, text: str, args: tuple[Any, ...]) -> None:
    """Refuse a call of a text method (``x.ljust(n)``, ``x.replace(a, b)``, ``sep.join(items)``)
    whose result is over the limit, before it runs."""
    if name in ("ljust", "rjust", "center", "zfill") and args and isinstance(args[0], int):
        if args[0] > MAX_LENGTH:
            raise _too_long(f"{name}({args[0]:,})", args[0])
    elif name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        predicted = len(text) + text.count("\t") * max(size, 0)
        if predicted > MAX_LENGTH:
            raise _too_long("expandtabs", predicted)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], str(args[1])
        count = len(text) + 1 if old == "" else text.count(old)
        limit = args[2] if len(args) > 2 else -1
        if isinstance(limit, int) and limit >= 0:
            count = min(count, limit)
        predicted = len(text) + count * (len(new) - len(old))
        if predicted > MAX_LENGTH:
            raise _too_long("replace", predicted)


def _checked_join(separator: str, items: Iterable[Any]) -> list[Any]:
    listed = _bounded_list(items)
    predicted = sum(len(str(item)) for item in listed) + len(separator) * max(len(listed) - 1, 0)
    if predicted > MAX_LENGTH:
        raise _too_long("join", predicted)
    return listed


def _bounded_list(items: Iterable[Any]) -> list[Any]:
    if isinstance(items, Sized) and len(items) > MAX_LENGTH:
        raise _too_long("the list", len(items))
    listed = []
    for item in items:
        listed.append(item)
        if len(listed) > MAX_LENGTH:
            raise _too_long("the list", len(listed))
    return listed


def _counted(iterable: Any) -> Iterator[Any]:
    """A loop's iterable, spending one step per item."""
    for item in iterable:
        _spend()
        yield item


def _bounded_range(*args: int) -> range:
    _spend()
    items = range(*args)
    shown = ", ".join(f"{arg:,}" if isinstance(arg, int) else repr(arg) for arg in args)
    return check_length(items, f"range({shown})")


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    # a lorem ipsum word is at most 8 characters or so
    if n * max * 8 > MAX_LENGTH:
        raise _too_long(f"lipsum({n:,})", n * max * 8)
    return generate_lorem_ipsum(n, html, min, max)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter, checked before (what can be predicted) and after (the result)."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        _spend()
        lead = 0  # Jinja passes the context or environment first to some filters
        while lead < len(args) and isinstance(args[lead], Context | EvalContext | Environment):
            lead += 1
        value = args[lead] if lead < len(args) else None
        rest = tuple(args[lead + 1 :])
        if name == "center" and rest and isinstance(rest[0], int) and rest[0] > MAX_LENGTH:
            raise _too_long(f"center({rest[0]:,})", rest[0])
        if name == "indent":
            width = rest[0] if rest else kwargs.get("width", 4)
            lines = str(value).count("\n") + 1
            size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            if len(str(value)) + lines * size > MAX_LENGTH:
                raise _too_long("indent", len(str(value)) + lines * size)
        if name == "replace" and len(rest) >= 2:
            _predict_str_method("replace", str(value), rest)
        if name == "format":
            _check_format(str(value), rest or tuple(kwargs.values()))
        if name == "join" and value is not None:
            separator = rest[0] if rest else kwargs.get("d", "")
            args = (*args[:lead], _checked_join(str(separator), value), *rest)
        return check_length(function(*args, **kwargs), f"the {name} filter's result")

    if hasattr(function, "jinja_pass_arg"):  # Jinja's pass_context / pass_environment mark
        checked.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
    return checked


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the size and step limits of this module."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        self.globals[_LOOP] = _counted
        self.globals["lipsum"] = _bounded_lipsum
        self.filters = {
            name: _bounded_filter(name, function) for name, function in self.filters.items()
        }

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _spend()
        _predict_binop(operator, left, right)
        return check_length(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        # the sandbox hands out str.format wrapped; the wrapper keeps the method as __wrapped__
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        name = getattr(method, "__name__", "")
        if isinstance(owner, str):
            if name in ("format", "format_map"):
                _check_format(owner, (*args, *kwargs.values()))
            _predict_str_method(name, owner, args)
            if name == "join" and args:
                args = (_checked_join(owner, args[0]), *args[1:])
        return check_length(super().call(__context, __obj, *args, **kwargs))

    def _generate(self, source: nodes.Template, *args: Any, **kwargs: Any) -> str:
        _count_loops(source)
        return super()._generate(source, *args, **kwargs)


def _count_loops(template: nodes.Template) -> None:
    """Pass every ``{% for %}`` loop's iterable through :func:`_counted`, so each iteration
    spends a step (Jinja offers no hook of its own on loops)."""
    for loop in template.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name(_LOOP, "load"), [loop.iter], [], None, None)


# ---- what `handoff check` can see without a record ---------------------------------------------


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": ops.add,
    "-": ops.sub,
    "*": ops.mul,
    "/": ops.truediv,
    "//": ops.floordiv,
    "**": ops.pow,
    "%": ops.mod,
}


class _NotConstant(Exception):
    pass


def static_limit_problems(template: nodes.Template) -> list[str]:
    """Why an expression would exceed a limit on every record, judged from its constants:
    ``'A' * 4000000000``, ``range(10 ** 9)``, loops over constant ranges nested past the step
    budget. Empty when nothing constant is over a limit."""
    found: list[str] = []
    for node in template.find_all((nodes.BinExpr, nodes.Call, nodes.Filter)):
        try:
            _fold(node)
        except LimitExceeded as exc:
            found.append(str(exc))
        except _NotConstant:
            continue
        except Exception:  # a constant that fails otherwise shows at run time
            continue
    steps = _loop_steps(template, 1)
    if steps > MAX_STEPS:
        found.append(
            f"its loops run {steps:,} times over constant ranges; the limit is {MAX_STEPS:,} steps"
        )
    return list(dict.fromkeys(found))


def _fold(node: nodes.Node) -> Any:
    """The value of a constant subexpression, computed through the same checks as at run
    time, or :class:`_NotConstant`."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.List | nodes.Tuple):
        return [_fold(item) for item in node.items]
    if isinstance(node, nodes.Neg):
        return -_fold(node.node)
    if isinstance(node, nodes.BinExpr):
        left, right = _fold(node.left), _fold(node.right)
        if node.operator in BoundedSandbox.intercepted_binops:
            _predict_binop(node.operator, left, right)
        return check_length(_BINOPS[node.operator](left, right))
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "range"
        and not node.kwargs
        and not node.dyn_args
    ):
        return _bounded_range(*[_fold(arg) for arg in node.args])
    if (
        isinstance(node, nodes.Filter)
        and node.node is not None
        and node.name in ("center", "indent", "format", "replace", "join")
    ):
        value = _fold(node.node)
        args = [_fold(arg) for arg in node.args]
        return _bounded_filter(node.name, FILTERS[node.name])(value, *args)
    raise _NotConstant


def _loop_steps(node: nodes.Node, outer: int) -> int:
    """The most iterations the constant-range loops under ``node`` add up to."""
    worst = outer
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.For):
            try:
                count = len(_fold(child.iter))
            except Exception:  # not a constant range: unknown, counted once
                count = 1
            worst = max(worst, _loop_steps(child, outer * max(count, 1)))
        else:
            worst = max(worst, _loop_steps(child, outer))
    return worst


__all__ = [
    "MAX_LENGTH",
    "MAX_STEPS",
    "BoundedSandbox",
    "LimitExceeded",
    "budget",
    "check_length",
    "static_limit_problems",
]
