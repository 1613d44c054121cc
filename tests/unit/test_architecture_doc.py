"""ARCHITECTURE.md cannot rot silently: every path it cites exists, every name its tables give
for a file is in that file, every README section it points at is there, and every pointer
at one of its sections from the code (the document's name, a comma, the section in quotes)
names a section it has."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "ARCHITECTURE.md"
README = ROOT / "README.md"
TICKED = re.compile(r"`([^`]+)`")
FILE_NAME = re.compile(r"^[\w.-]+\.(py|md|toml|yaml|yml|lock|sql|mako)$")
IDENTIFIER = re.compile(r"^[A-Za-z_][\w.]*$")
NAME_COLUMNS = {"names", "term"}  # columns whose names must be found in the row's file


def prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    return listed.stdout.splitlines()


def is_path(token: str) -> bool:
    if " " in token or "<" in token or token.startswith("/"):
        return False
    return "/" in token or bool(FILE_NAME.match(token))


def cited_paths(text: str) -> set[str]:
    return {t for t in TICKED.findall(prose(text)) if is_path(t)}


def squash(text: str) -> str:
    """Line breaks (and a comment's `#` after them) as single spaces: a quoted section name
    may be wrapped."""
    return re.sub(r"\s*\n\s*(#\s*)?", " ", text)


def heading_slugs(text: str) -> set[str]:
    """GitHub's anchors of a page's headings."""
    titles = re.findall(r"^#+ (.+)$", prose(text), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", t.strip().lower()).replace(" ", "-") for t in titles}


def headings(text: str) -> set[str]:
    return set(re.findall(r"^#+ (.+)$", prose(text), flags=re.MULTILINE))


def table_rows(text: str) -> Iterator[dict[str, str]]:
    """Each row of each table, by its header's column names."""
    header: list[str] = []
    for line in prose(text).splitlines():
        if not line.startswith("|"):
            header = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
        elif not set(line) <= set("|-: "):
            yield dict(zip(header, cells, strict=False))


def home_file(row: dict[str, str]) -> Path | None:
    """The one file a row is about: a cell that is nothing but its path."""
    for cell in row.values():
        match = re.fullmatch(r"`([^`]+)`", cell)
        if match and is_path(match[1]) and (ROOT / match[1]).is_file():
            return ROOT / match[1]
    return None


def found_in(name: str, source: str) -> bool:
    """Each part of a dotted name (`CachedReads.read`) is a word of the file."""
    return all(re.search(rf"\b{re.escape(part)}\b", source) for part in name.split("."))


def test_every_cited_path_exists() -> None:
    tracked = tracked_files()
    names = {Path(f).name for f in tracked}
    text = DOC.read_text()
    assert cited_paths(text), "the check found no paths: is the document still there?"
    missing = [
        path
        for path in sorted(cited_paths(text))
        if not ((ROOT / path).exists() if "/" in path else path in names)
    ]
    assert missing == [], f"ARCHITECTURE.md cites paths that do not exist: {missing}"


def test_every_name_a_table_gives_is_in_its_file() -> None:
    checked, missing = 0, []
    for row in table_rows(DOC.read_text()):
        home = home_file(row)
        if home is None:
            continue
        source = home.read_text()
        for column in NAME_COLUMNS & row.keys():
            for name in TICKED.findall(row[column]):
                if IDENTIFIER.match(name):
                    checked += 1
                    if not found_in(name, source):
                        missing.append(f"{name} in {home.relative_to(ROOT)}")
    assert checked >= 40, f"only {checked} names checked: have the tables changed shape?"
    assert missing == [], f"ARCHITECTURE.md names what its files no longer hold: {missing}"


def test_every_readme_section_it_points_at_exists() -> None:
    text, readme = DOC.read_text(), README.read_text()
    quoted = set(re.findall(r'README, "([^"]+)"', squash(text)))
    linked = set(re.findall(r"README\.md#([\w-]+)", text))
    assert quoted and linked
    assert quoted - headings(readme) == set()
    assert linked - heading_slugs(readme) == set()


def test_every_pointer_at_it_in_the_code_names_one_of_its_sections() -> None:
    sections = headings(DOC.read_text())
    pointers: dict[str, str] = {}
    for name in tracked_files():
        if name.endswith((".py", ".toml")) and (ROOT / name).is_file():
            source = squash((ROOT / name).read_text())
            for section in re.findall(r'ARCHITECTURE\.md, "([^"]+)"', source):
                pointers.setdefault(section, name)
    assert "The write path" in pointers, "the check found no pointers"
    dangling = {s: where for s, where in pointers.items() if s not in sections}
    assert dangling == {}, f"pointers at sections ARCHITECTURE.md does not have: {dangling}"
