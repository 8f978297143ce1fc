"""The golden comparison finds what a refactor must not change, and accepts what it may."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.golden import Edit, compare_markdown, compare_projects, compare_terraform

OLD_TF = """\
# demo: a service.
#
# Sections: key; queue.

# =============================================================================
# Key
# =============================================================================

resource "aws_kms_key" "this" {
  # checkov:skip=CKV_AWS_1: a reason a reviewer accepts
  enable_key_rotation = true
}

# The queue the jobs wait in.
resource "aws_sqs_queue" "jobs" {
  kms_master_key_id = aws_kms_key.this.arn
}

locals {
  name = "demo"
}
"""

SPLIT = {
    "main.tf": '# Names every file uses.\nlocals {\n  name = "demo"\n}\n',
    "kms.tf": (
        "# The project's key.\n"
        'resource "aws_kms_key" "this" {\n'
        "  # checkov:skip=CKV_AWS_1: a reason a reviewer accepts\n"
        "  enable_key_rotation = true\n}\n"
    ),
    "queue.tf": (
        "# The job queue.\n\n# The queue the jobs wait in.\n"
        'resource "aws_sqs_queue" "jobs" {\n  kms_master_key_id = aws_kms_key.this.arn\n}\n'
    ),
}


def _folder(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_a_split_by_concern_is_the_same_terraform(tmp_path):
    old = _folder(tmp_path / "old", {"main.tf": OLD_TF})
    new = _folder(tmp_path / "new", SPLIT)
    assert compare_terraform(old, new) == []


@pytest.mark.parametrize(
    ("file", "before", "after", "found"),
    [
        ("kms.tf", "enable_key_rotation = true", "enable_key_rotation = false", "changed"),
        ("kms.tf", "  # checkov:skip=CKV_AWS_1: a reason a reviewer accepts\n", "", "changed"),
        ("queue.tf", "# The queue the jobs wait in.\n", "", "comment lost"),
        ("queue.tf", '"aws_sqs_queue" "jobs"', '"aws_sqs_queue" "work"', "is gone"),
        ("main.tf", "}\n", "}\n\n# A note.\nlocals {\n  extra = 1\n}\n", "local.extra is new"),
        ("queue.tf", "arn\n}\n", "arn\n}\n\n# A stray note.\n", "comment added"),
    ],
)
def test_a_changed_block_or_comment_is_found(tmp_path, file, before, after, found):
    old = _folder(tmp_path / "old", {"main.tf": OLD_TF})
    files = dict(SPLIT)
    assert before in files[file]
    files[file] = files[file].replace(before, after, 1)
    differences = compare_terraform(old, _folder(tmp_path / "new", files))
    assert any(found in d for d in differences), differences


def test_a_block_defined_twice_is_refused(tmp_path):
    old = _folder(tmp_path / "old", {"main.tf": OLD_TF})
    new = _folder(tmp_path / "new", {**SPLIT, "copy.tf": SPLIT["kms.tf"]})
    with pytest.raises(ValueError, match="defined twice"):
        compare_terraform(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "# svc\n\nNightly 3\\-hour batch \\(UTC\\)\\.\n",
            "# svc\n\nNightly 3-hour batch (UTC).\n",
        ),
        ("a: \\*not bold\\* \\#1\n", "a: \\*not bold\\* #1\n"),
        ("text\n\n   spaced out   \n", "text\n\nspaced out\n"),
    ],
)
def test_markdown_that_only_escapes_less_is_the_same(old, new):
    assert compare_markdown(old, new) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a \\*b\\* c\n", "a *b* c\n"),  # the same characters, now emphasis
        ("\\- item\n", "- item\n"),  # now a list
        ("one\n", "one\ntwo\n"),
        ("Nightly batch.\n", "Nightly batch!\n"),
    ],
)
def test_markdown_that_reads_differently_is_found(old, new):
    assert compare_markdown(old, new) != []


def test_projects_differ_in_files_bits_and_content_unless_an_edit_says_so(tmp_path):
    old = _folder(tmp_path / "old", {"a.txt": "see main.tf\n", "run.sh": "echo\n"})
    new = _folder(tmp_path / "new", {"a.txt": "see kms.tf\n", "run.sh": "echo\n", "b.txt": ""})
    (new / "run.sh").chmod(0o755)
    (new / "empty").mkdir()

    differences = compare_projects(old, new).differences

    assert differences == [
        "b.txt: only in the new render",
        "empty/: an empty folder",
        "a.txt: content differs at line 1",
        "run.sh: executable bit changed",
    ]
    edit = Edit("*.txt", "main.tf", "kms.tf")
    result = compare_projects(old, new, [edit])
    assert "a.txt: content differs at line 1" not in result.differences
    assert result.used == {edit}


def test_an_edit_applies_only_where_its_text_is(tmp_path):
    old = _folder(tmp_path / "old", {"a.txt": "same\n", "b.txt": "see main.tf\n"})
    new = _folder(tmp_path / "new", {"a.txt": "same\n", "b.txt": "see main.tf\n"})
    result = compare_projects(old, new, [Edit("a.txt", "main.tf", "kms.tf")])
    assert result.differences == []
    assert result.used == set()


def test_answers_may_differ_only_in_where_the_template_was(tmp_path):
    answers = "_src_path: {}\nproject_name: {}\n"
    old = _folder(tmp_path / "old", {".copier-answers.yml": answers.format("/a", "x")})
    same = _folder(tmp_path / "same", {".copier-answers.yml": answers.format("/b", "x")})
    other = _folder(tmp_path / "other", {".copier-answers.yml": answers.format("/a", "y")})
    assert compare_projects(old, same).differences == []
    assert compare_projects(old, other).differences == [".copier-answers.yml: different answers"]
