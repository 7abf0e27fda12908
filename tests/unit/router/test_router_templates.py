"""Sandboxed templates: native types, formatters, clear errors, and no way out of the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zap_router.domain.templates import (
    TemplateRenderError,
    compile_template,
    compile_tree,
    referenced_steps,
    render_tree,
)

CTX: dict[str, Any] = {
    "trigger": {
        "id": "evt-1",
        "time": "2026-11-20T23:30:00Z",
        "lead": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "full": "Ada King Lovelace",
            "email": "a@x.io",
        },
        "transaction": {"amount": 49.5, "qty": 3, "paid": True},
        "items": [{"name": "Course", "price": "10.005", "quantity": 2}, {"name": "Book", "price": 5}],
        "csv": "red, green ,blue",
    },
    "steps": {"contact": {"ContactID": "C-1"}},
    "zap": {"id": "z1", "version": 3, "name": "demo"},
}


def render(source: str) -> Any:
    return compile_template(source).render(CTX)


def test_single_expression_keeps_native_types() -> None:
    assert render("{{ trigger.transaction.amount }}") == 49.5
    assert render("  {{ trigger.transaction.qty * 2 }} ") == 6
    assert render("{{ trigger.transaction.paid }}") is True
    assert render("{{ trigger.items | pluck('name') }}") == ["Course", "Book"]
    assert render("{{ steps.contact }}") == {"ContactID": "C-1"}


def test_text_templates_render_text() -> None:
    assert render("{{ trigger.lead.first_name }} {{ trigger.lead.last_name }}") == "Ada Lovelace"
    assert render("Order {{ trigger.id }} for {{ zap.name }}") == "Order evt-1 for demo"


def test_formatters() -> None:
    assert render("{{ trigger.time | date('%Y-%m-%d') }}") == "2026-11-20"
    assert render("{{ trigger.time | date('%Y-%m-%d %H:%M', 'Australia/Sydney') }}") == "2026-11-21 10:30"
    assert render("{{ trigger.time | date_add(days=30) | date('%d/%m/%Y') }}") == "20/12/2026"
    assert render("{{ '1,234.567' | number(2) }}") == 1234.57
    assert render("{{ '2.675' | amount }}") == 2.68  # half-up, not banker's or binary rounding
    assert render("{{ 1234.5 | money('USD') }}") == "$1,234.50"
    assert render("{{ -3 | money('CHF') }}") == "-CHF 3.00"
    assert (
        render("{{ trigger.lead.full | first_name }}|{{ trigger.lead.full | last_name }}")
        == "Ada|King Lovelace"
    )
    assert render("{{ trigger.csv | split(',') }}") == ["red", "green", "blue"]
    assert render("{{ trigger.csv | split(',', 1) }}") == "green"
    assert render("{{ trigger.lead.phone | default('n/a') }}") == "n/a"
    assert render("{{ trigger.items | line_items(account_code='200') }}") == [
        {"Description": "Course", "Quantity": 2, "UnitAmount": 10.01, "AccountCode": "200"},
        {"Description": "Book", "Quantity": 1, "UnitAmount": 5.0, "AccountCode": "200"},
    ]


def test_missing_field_names_the_template_and_the_field() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        compile_template("{{ trigger.lead.nickname }}", "steps.contact.input.Name").render(CTX)
    message = str(caught.value)
    assert "steps.contact.input.Name" in message
    assert "nickname" in message


def test_bad_formatter_input_is_a_clear_error() -> None:
    with pytest.raises(TemplateRenderError, match="not a date"):
        render("{{ trigger.lead.email | date }}")
    with pytest.raises(TemplateRenderError, match="time zone"):
        render("{{ trigger.time | date('%Y', 'Mars/Olympus') }}")


def test_syntax_error_at_compile_time() -> None:
    with pytest.raises(TemplateRenderError, match="syntax error"):
        compile_template("{{ trigger.lead. }}")


def test_tree_renders_nested_inputs() -> None:
    tree = compile_tree({"Contact": {"ContactID": "{{ steps.contact.ContactID }}"}, "Lines": [{"Q": 1}]})
    assert render_tree(tree, CTX) == {"Contact": {"ContactID": "C-1"}, "Lines": [{"Q": 1}]}


def test_referenced_steps() -> None:
    assert referenced_steps("{{ steps.contact.ContactID }} {{ steps['invoice'].InvoiceID }}") == {
        "contact",
        "invoice",
    }
    assert referenced_steps("{{ trigger.steps.x }}") == set()


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ trigger.__class__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ namespace }}",
    "{{ range(10) }}",
    "{{ config }}",
    "{{ request }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ trigger.items.pop }}",
    "{{ 'x' * 100000000 }}",
    "{{ 9 ** 9999999 }}",
    "{{ (trigger.lead.email).format.__self__ }}",
    "{{ trigger.lead.email.__len__() }}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{{ open('/etc/passwd').read() }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_known_escapes_fail_cleanly(source: str) -> None:
    with pytest.raises(TemplateRenderError):
        compile_template(source).render(CTX)


NAMES = ["trigger", "steps", "zap", "self", "cycler", "lipsum", "namespace", "range", "dict", "open", "os"]
ATTRS = [
    "__class__",
    "__mro__",
    "__subclasses__",
    "__globals__",
    "__init__",
    "__builtins__",
    "__dict__",
    "__code__",
    "mro",
    "gi_frame",
    "f_globals",
    "func_globals",
    "items",
    "lead",
    "0",
    "format",
    "pop",
]
FILTERS = ["", " | default('x')", " | attr('__class__')", " | first", " | list", " | string", " | tojson"]


@settings(max_examples=400, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    chain=st.lists(st.sampled_from(ATTRS), max_size=4),
    call=st.booleans(),
    filt=st.sampled_from(FILTERS),
    text=st.text(max_size=15),
)
def test_no_template_reaches_python_internals(
    name: str, chain: list[str], call: bool, filt: str, text: str
) -> None:
    expr = (
        name
        + "".join(f".{a}" if not a.isdigit() else f"[{a}]" for a in chain)
        + ("()" if call else "")
        + filt
    )
    for source in ("{{ " + expr + " }}", f"{text}{{{{ {expr} }}}}", text):
        try:
            value = compile_template(source).render(CTX)
        except TemplateRenderError:
            continue
        assert_json(value)


def assert_json(value: Any) -> None:
    """Whatever renders is plain JSON data: never a function, class, module or frame."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str)
            assert_json(v)
    elif isinstance(value, list):
        for v in value:
            assert_json(v)
    else:
        assert value is None or isinstance(value, bool | int | float | str), type(value)
        if isinstance(value, str):
            assert "<function" not in value and "<class" not in value and "<module" not in value
