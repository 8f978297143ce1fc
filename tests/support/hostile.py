"""Free text that breaks naive templating, for every file type a project holds."""

from __future__ import annotations

#: Descriptions every escaping must survive: quotes and backslashes, line breaks,
#: HCL and Jinja template sequences, CloudFormation tags, comment and Markdown
#: syntax, Unicode line separators and bidirectional overrides, outer spaces.
HOSTILE = [
    'He said "hi" \\ and left',
    "line one\nline two\r\nline three\ttabbed",
    "${var.secret} %{ if true }x%{ endif } $${literal}",
    "{{ 7 * 7 }} {% raw %} {# comment #}",
    "!Ref AWS::AccountId !GetAtt X.Arn !Sub '${AWS::Region}'",
    "# not a comment; // nor this; <!-- nor this -->",
    "it's 'single' and \"double\" and `back` ticks",
    "ünïcödé — 日本語 — emoji 😀 — RTL \u202e",
    "\u2028line separator\u2029paragraph separator",
    "\\n \\t \\u0041 \\\\ escapes that are text",
    "- [x] list: {a: b}, *bold*, _it_, [l](javascript:alert(1)) <script>alert(1)</script>",
    "key: value\n---\nother: doc",
    "trailing backslash \\",
    "   leading and trailing spaces   ",
]
