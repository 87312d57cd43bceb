"""README.md is the entry point and docs/ holds the rest, so their links must hold: mkdocs
(``mkdocs build --strict``, in CI) checks the pages' links; here the README's links and the
references in the code and configs ('docs/cluster.md, "Rehearsing a grid"') are checked,
which mkdocs does not see."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_LINES = 400
#: where the code, configs and templates name a page and its section
SCANNED = ("src", "config", "workflow", "scripts", "envs", "paper", "profiles", "tests")
SUFFIXES = {".py", ".md", ".yaml", ".smk", ".rst", ".sh", ".j2", ".tex", ".cff", ".toml"}
#: a page, then a quoted section (which may wrap): docs/cluster.md, "Rehearsing a grid"
REFERENCE = re.compile(r"""\b(README|docs/[\w-]+\.md),\s+(["'])(.{1,80}?)\2""", re.S)


def _headings(page: Path) -> list[str]:
    """The page's headings, outside code blocks."""
    headings, code = [], False
    for line in page.read_text().splitlines():
        code ^= line.startswith("```")
        if not code and re.match(r"#{1,6} ", line):
            headings.append(line.lstrip("#").strip())
    return headings


def _anchor(heading: str) -> str:
    """The anchor GitHub and mkdocs give a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _names_a_section(page: Path, section: str) -> bool:
    """A heading starts with it, or a paragraph's bold lead is it (**Tuning.**)."""
    return (any(h.startswith(section) for h in _headings(page))
            or f"**{section}" in page.read_text())


def test_the_readme_is_an_entry_point():
    assert len(README.read_text().splitlines()) <= MAX_LINES


def test_every_relative_link_of_the_readme_resolves():
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if re.match(r"\w+://", link):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path if path else README
        assert target.exists(), f"README.md links to {link}: no such file"
        if anchor:
            assert anchor in map(_anchor, _headings(target)), \
                f"README.md links to {link}: {path or 'README.md'} has no such heading"


def _references() -> list[tuple[str, str, str]]:
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file() and path != Path(__file__):
                for page, _, section in REFERENCE.findall(path.read_text(errors="ignore")):
                    found.append((str(path.relative_to(ROOT)), page, " ".join(section.split())))
    return found


REFERENCES = _references()


def test_references_are_found():
    assert any(page == "docs/cluster.md" for _, page, _ in REFERENCES)


@pytest.mark.parametrize("where, page, section", REFERENCES,
                         ids=[f"{w}:{p}:{s}" for w, p, s in REFERENCES])
def test_every_reference_to_a_section_names_one_that_exists(where, page, section):
    target = README if page == "README" else ROOT / page
    assert target.is_file(), f"{where} names {page}, which does not exist"
    assert _names_a_section(target, section), f"{where} names {page}, {section!r}: no such section"
