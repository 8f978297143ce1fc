"""Free text in generated Markdown: shown as written, escaped only where it would be markup.

copier.yml computes ``description_md`` with Jinja; these tests evaluate that
expression as copier does and read the result with a CommonMark parser
(markdown-it-py, with GitHub's tables and strikethrough) in the two places the
templates put it: a paragraph of its own (READMEs) and after the project's name
(the ADR).
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.sandbox import SandboxedEnvironment
from support.hostile import HOSTILE
from support.markdown import paragraphs, shown_as_text
from support.render import REPO

EXPRESSION = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))["description_md"][
    "default"
]
JINJA = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
TEMPLATE = JINJA.from_string(EXPRESSION)


def escaped(description: str) -> str:
    """``description_md`` for ``description``, as copier computes it."""
    return TEMPLATE.render(description=description)


def _contexts(description: str) -> list[tuple[str, str]]:
    """(document, text a reader must see) for each place the templates put the text."""
    md = escaped(description)
    shown = shown_as_text(description)
    return [
        (f"# demo-svc\n\n{md}\n\nA second paragraph.\n", shown),
        (f"## Context\n\ndemo-svc: {md}\n\nThe checklist.\n", f"demo-svc: {shown}"),
    ]


def _assert_shown_literally(description: str) -> None:
    for document, shown in _contexts(description):
        if not shown.strip():
            continue
        paragraph = paragraphs(document)[1]
        assert (paragraph.block, paragraph.level) == ("paragraph_open", 0), document
        assert paragraph.markup == frozenset(), document
        assert paragraph.text.strip() == shown.strip(), document


#: Pieces of text that are markup somewhere in CommonMark or GitHub's Markdown.
MARKUP = [
    *"\\`*_[]<>&~$#+-=|!():.1 \t\n",
    *["&amp;", "&#35;", "&#x41;", "<b>", "</b>", "<!--", "<http://x.y>", "<a@b.c>"],
    *["**", "__", "~~", "$$", "```", "~~~", "***", "---", "- ", "+ ", "* ", "1. ", "1) "],
    *["# ", "### ", "> ", "[a](b)", "![i](u)", "[r]: /u", "a_b", "x", "\u00a0", "\u2028"],
]


#: Any character a description may hold (copier.yml refuses other control characters).
CHARACTERS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(MARKUP) | CHARACTERS, max_size=24).map("".join))
def test_any_text_is_shown_literally(description):
    _assert_shown_literally(description)


@pytest.mark.parametrize("description", HOSTILE)
def test_the_hostile_table_is_shown_literally(description):
    _assert_shown_literally(description)


@pytest.mark.parametrize(
    "description",
    [
        "An AWS service scaffolded by infra-scaffold",
        "Nightly 3-hour batch (UTC), 2 retries; see https://example.com/runbook?id=7.",
        'Orders API: "create", "list" & "cancel" for order_events, 50% cheaper!',
        "Resizes images ~200 ms each; costs $4/month; a+b=c; 1.5x faster; #3 of 5",
        "Übersetzt Texte — 日本語も",
    ],
)
def test_ordinary_prose_is_not_escaped(description):
    assert escaped(description) == description


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("*bold* and `code`", r"\*bold\* and \`code\`"),
        ("[link](https://x.y) <b>tag</b>", r"\[link\](https://x.y) \<b>tag\</b>"),
        ("snake_case but _emphasis_ and __init__", r"snake_case but \_emphasis\_ and \_\_init\_\_"),
        ("costs $5 to $10 and ~1 to ~2", r"costs \$5 to $10 and \~1 to ~2"),
        ("&copy; and R&D", r"\&copy; and R&D"),
        (r"C:\path and \* and a trailing \ ", r"C:\path and \\\* and a trailing \\"),
        ("# not a heading", r"\# not a heading"),
        ("- not a list", r"\- not a list"),
        ("1. not a list", r"1\. not a list"),
        ("> not a quote", r"\> not a quote"),
        ("---", r"\---"),
        ("  two\nlines  ", "two lines"),
    ],
)
def test_markup_is_escaped_where_it_would_render(description, expected):
    assert escaped(description) == expected
