"""Generated Markdown as a reader's renderer sees it: CommonMark, with GitHub's extensions.

READMEs and ADRs are read in editors and terminals as text, and on GitHub as
rendered Markdown. markdown-it-py's CommonMark parser, with the table and
strikethrough rules GitHub adds, tells whether free text in them stays text.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    """The HTML ``text`` renders to."""
    return MARKDOWN.render(text)


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A block of inline text (a paragraph, heading, list item, table cell, ...)."""

    block: str
    """The block's opening token (``paragraph_open``, ``heading_open``, ``th_open``, ...)."""
    level: int
    """How deep it is nested: 0 for a paragraph of the document itself."""
    markup: frozenset[str]
    """The inline tokens that are not plain text (``em_open``, ``link_open``, ...)."""
    text: str
    """The text it shows."""


def paragraphs(text: str) -> list[Paragraph]:
    """Every block of inline text in ``text``, as a CommonMark reader sees it."""
    tokens = MARKDOWN.parse(text)
    found = []
    for before, token in itertools.pairwise(tokens):
        if token.type == "inline":
            children = token.children or []
            found.append(
                Paragraph(
                    block=before.type,
                    level=before.level,
                    markup=frozenset(c.type for c in children if c.type != "text"),
                    text="".join(c.content for c in children if c.type == "text"),
                )
            )
    return found


def shown_as_text(free_text: str) -> str:
    """What a reader must see of ``free_text``: one line, without outer spaces and tabs.

    Renderers also drop other whitespace at the edges of a paragraph: compare
    what a paragraph shows with ``.strip()`` on both sides.
    """
    return re.sub(r"[\r\n\u2028\u2029]+", " ", free_text).strip(" \t")
