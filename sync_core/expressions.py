"""Field mappings and ``when:`` conditions: Jinja2 expressions in a sandbox, never ``eval``.

A mapping value is a template (``"{{ org_name }} – {{ title }}"``); a template that is one
expression alone (``"{{ value }}"``) keeps its native type. A condition is a bare expression
(``status == 'won'``). Both are compiled once and evaluated against a record's fields.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate

from sync_core.expression_limits import (
    MAX_LENGTH,
    BoundedSandbox,
    LimitExceeded,
    budget,
    check_length,
    static_limit_problems,
)

# The name under which expressions see the record's fields by name: ``record["Client code"]``
# reads a field whose name is not a Jinja name (a space, a dash, a leading digit).
RECORD = "record"
# ``link('xero.contact')``: the id of the customer's record in another record type (a draft
# invoice's Contact.ContactID). The record may not exist yet when the flow is planned (the
# contact is created by another flow from the same change), so the value is a marker the
# deliverer replaces when it sends the event (see :func:`resolve_links`).
LINK = "link"
LINK_KEY = "$link"


def _link(ref: Any) -> dict[str, str]:
    text = str(ref)
    system, dot, record_type = text.partition(".")
    if not (system and dot and record_type):
        raise ValueError(f"link() takes a record type as system.record_type, not {text!r}")
    return {LINK_KEY: text}


def resolve_links(value: Any, find: Callable[[str], str | None]) -> tuple[Any, list[str]]:
    """``value`` with each ``link()`` marker replaced by ``find(ref)``, and the record types
    ``find`` did not know (the marker is kept for those)."""
    missing: list[str] = []

    def walk(item: Any) -> Any:
        if isinstance(item, Mapping):
            if set(item) == {LINK_KEY}:
                found = find(str(item[LINK_KEY]))
                if found is None:
                    missing.append(str(item[LINK_KEY]))
                    return dict(item)
                return found
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value), missing


class ExpressionError(ValueError):
    """An expression that does not parse or fails when evaluated; ``expression`` is its text.

    This is the expression boundary: whatever Jinja2 or the values it works on raise
    (``ZeroDivisionError``, a refused attribute, ``"x" + 1``) leaves here as this one class.
    """

    def __init__(self, message: str, *, expression: str | None = None) -> None:
        super().__init__(message)
        self.expression = expression


def _failure(source: Any, exc: Exception) -> ExpressionError:
    detail = exc.message if isinstance(exc, TemplateSyntaxError) else str(exc)
    if isinstance(exc, TemplateSyntaxError):
        detail = f"{detail} (line {exc.lineno})"
    elif not isinstance(exc, (UndefinedError, SecurityError)):
        detail = f"{type(exc).__name__}: {detail}"
    return ExpressionError(f"{source!r}: {detail}", expression=str(source))


def _native_concat(values: Any) -> Any:
    """One expression keeps its type; several are joined as text, a missing value as "".

    Unlike Jinja2's own native mode, text is never re-parsed as a Python literal: a postcode
    "12345" stays a string.
    """
    items = [_defined(v) for v in values]
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return "".join("" if v is None else str(v) for v in items)


def _defined(value: Any) -> Any:
    """A missing field is None; what the sandbox refused (``x.__class__``) is an error."""
    if not isinstance(value, Undefined):
        return value
    if getattr(value, "_undefined_exception", UndefinedError) is not UndefinedError:
        value._fail_with_undefined_error()
    return None


def _bounded_output(chunks: Any) -> Any:
    """The template's output pieces, stopping once their text passes the length limit."""
    total = 0
    for chunk in chunks:
        total += len(chunk) if isinstance(chunk, str) else 1
        if total > MAX_LENGTH:
            raise LimitExceeded(f"the rendered value is longer than the limit of {MAX_LENGTH:,}")
        yield chunk


class _Template(NativeTemplate):
    def render(self, *args: Any, **kwargs: Any) -> Any:
        context = self.new_context(dict(*args, **kwargs))
        try:
            with budget():
                return check_length(_native_concat(_bounded_output(self.root_render_func(context))))
        except Exception:  # Jinja2 rewrites the traceback to point at the template
            return self.environment.handle_exception()


class _SandboxedNativeEnvironment(BoundedSandbox):
    code_generator_class = NativeCodeGenerator
    template_class = _Template


@functools.lru_cache(maxsize=1)
def _env() -> _SandboxedNativeEnvironment:
    env = _SandboxedNativeEnvironment(autoescape=False, keep_trailing_newline=False)
    env.globals[LINK] = _link
    return env


@functools.lru_cache(maxsize=1)
def _text_env() -> BoundedSandbox:
    return BoundedSandbox(autoescape=False)


# ``{{ name }}`` alone: the most common mapping, whose value is the field's own
_BARE_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})


class Template:
    """A compiled field mapping value."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self._template: Any = None
        self._field: str | None = None
        if isinstance(source, str) and ("{{" in source or "{%" in source):
            try:
                self._template = _env().from_string(source)
            except Exception as exc:
                raise _failure(source, exc) from exc
            bare = _BARE_NAME.fullmatch(source)
            if bare and bare.group(1) not in _JINJA_CONSTANTS:
                self._field = bare.group(1)

    def render(self, context: Mapping[str, Any]) -> Any:
        if self._template is None:
            return self.source  # a constant: "client", ["client"], 42
        if self._field is not None and self._field in context:
            # what the template renders, without building a Jinja context for it: the value
            # as it is (a missing field, a global's name: through Jinja below)
            value = context[self._field]
            with contextlib.suppress(LimitExceeded):  # too long: Jinja says so its own way
                if not isinstance(value, Undefined):
                    return check_length(value)
        try:
            return self._template.render(context)
        except Exception as exc:
            raise _failure(self.source, exc) from exc

    def names(self) -> set[str]:
        """Top-level names the template reads (for validation against the record's fields)."""
        if not isinstance(self.source, str) or self._template is None:
            return set()
        return referenced_names(self.source)


class Condition:
    """A compiled ``when:`` condition."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self._expr = _text_env().compile_expression(source, undefined_to_none=True)
        except Exception as exc:
            raise _failure(source, exc) from exc

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        try:
            with budget():
                return bool(self._expr(**context))
        except Exception as exc:
            raise _failure(self.source, exc) from exc

    def names(self) -> set[str]:
        return referenced_names("{{ " + self.source + " }}")


@functools.lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    return Template(source)


@functools.lru_cache(maxsize=1024)
def compile_condition(source: str) -> Condition:
    return Condition(source)


def referenced_names(source: str) -> set[str]:
    """Record fields a template reads: its undeclared top-level variables (``Contact`` for
    ``{{ Contact.Name }}``), with ``record["Client code"]`` read as ``Client code``."""
    ast = _parse(source)
    names = set(meta.find_undeclared_variables(ast))
    if LINK in names and _called_only(ast, LINK):
        names.discard(LINK)
    if RECORD in names:
        names.discard(RECORD)
        for node, key in _lookups(ast):
            if isinstance(node.node, nodes.Name) and node.node.name == RECORD:
                names.add(key)
    return names


def _called_only(ast: nodes.Template, name: str) -> bool:
    """``name`` appears only as the function of a call (``link('xero.contact')``)."""
    called = {id(c.node) for c in ast.find_all(nodes.Call) if isinstance(c.node, nodes.Name)}
    uses = [n for n in ast.find_all(nodes.Name) if n.name == name]
    return all(id(n) in called for n in uses)


def limit_problems(source: str) -> list[str]:
    """What in ``source`` is over the size or step limit whatever the record (constants)."""
    return static_limit_problems(_parse(source))


def refused_attributes(source: str) -> set[str]:
    """Attributes the sandbox will refuse when the template runs (``x.__class__``)."""
    return {key for _node, key in _lookups(_parse(source)) if key.startswith("_")}


def _lookups(ast: nodes.Template) -> list[tuple[nodes.Getattr | nodes.Getitem, str]]:
    """Every ``a.name`` and ``a["name"]`` with a constant name."""
    found: list[tuple[nodes.Getattr | nodes.Getitem, str]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            found.append((node, node.attr))
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            found.append((node, node.arg.value))
    return found


def _parse(source: str) -> nodes.Template:
    try:
        return _text_env().parse(source)
    except Exception as exc:
        raise _failure(source, exc) from exc


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render a mapping value that may be a template string, a list or a constant."""
    if isinstance(value, str):
        return compile_template(value).render(context)
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value


__all__ = [
    "LINK",
    "LINK_KEY",
    "RECORD",
    "Condition",
    "ExpressionError",
    "Template",
    "compile_condition",
    "compile_template",
    "limit_problems",
    "referenced_names",
    "refused_attributes",
    "render_value",
    "resolve_links",
]
