"""The Lua scripts name an entry's hash fields only through `entry` (one source): they are
written with `${NAME}` placeholders, rendered once at import."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collabcache_shared.cache import entry, scripts

SCRIPTS = {
    "LEASE": scripts.LEASE,
    "FILL": scripts.FILL,
    "RELEASE": scripts.RELEASE,
    "INVALIDATE": scripts.INVALIDATE,
}
LUA_STRING = re.compile(r"'([^']*)'")


def test_the_source_quotes_no_field_name_of_its_own() -> None:
    source = Path(scripts.__file__).read_text()
    quoted = set(LUA_STRING.findall(source))
    assert not quoted & set(scripts.FIELDS.values()), quoted & set(scripts.FIELDS.values())


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_is_rendered(name: str) -> None:
    assert "${" not in SCRIPTS[name]


def test_the_rendered_scripts_use_the_names_entry_gives() -> None:
    assert f"'{entry.DATA}' .. ARGV[1]" in scripts.FILL
    assert f"'{entry.LEASE}' .. ARGV[1]" in scripts.RELEASE
    assert f"'{entry.FENCE}' .. ARGV[4]" in scripts.INVALIDATE
    used = {s for text in SCRIPTS.values() for s in LUA_STRING.findall(text)}
    assert set(scripts.FIELDS.values()) <= used


def test_render_refuses_an_unknown_placeholder_and_a_name_lua_cannot_quote() -> None:
    assert scripts.render("return '${DATA}' .. '(%d+)$'") == f"return '{entry.DATA}' .. '(%d+)$'"
    with pytest.raises(KeyError):
        scripts.render("return '${NOT_A_FIELD}'")
    with pytest.raises(ValueError, match="Lua string"):
        scripts.render("return '${DATA}'", {"DATA": "it's"})
