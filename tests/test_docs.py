"""The documents: every relative link resolves (files and #anchors), and the product speaks of itself."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
DOCS = [ROOT / "README.md", ROOT / "assets" / "MODEL_CARD.md", ROOT / "experiments" / "README.md",
        *sorted((ROOT / "docs").glob("*.md"))]  # fmt: skip


def anchors(markdown: str) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation dropped, spaces to hyphens."""
    slugs = set()
    for heading in re.findall(r"^#+\s+(.+)$", markdown, re.MULTILINE):
        text = re.sub(r"[`*_]", "", heading.strip().lower())
        slugs.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text)))
    return slugs


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_relative_link_resolves(doc):
    text = doc.read_text()
    broken = []
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z]+://|^mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists() or anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            broken.append(target)
    assert not broken, f"{doc.name}: broken links {broken}"


def test_readme_is_a_users_page_that_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    first_block = text.split("```")[1]
    assert "make run" in first_block and "make test" in first_block


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_no_development_history_outside_the_tests():
    found = subprocess.run(["git", "grep", "-n", "-I", "-i", "-E",
                            r"\bsessions? [0-9]+|\bissue [0-9]+(\.[0-9]+|/[0-9]+)", "--", ":!tests/*"],
                           cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert found.stdout == "", found.stdout[:2000]
