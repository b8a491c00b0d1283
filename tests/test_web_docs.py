"""docs/web.md and the app agree: every JSON route of the app is a row of one of the page's API tables
(`| request | what |`) and every row names a route the app has, with the same method; a download route's
documented kinds (`.abc` `.mid` …) are the kinds it serves; every page of the app is named on the page."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from test_web_fuzz import api_routes  # every APIRoute, in included routers too

from tunesmith.web.app import create_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "web.md"
NOT_PAGES = {"/favicon.ico"}


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> list[APIRoute]:
    return list(api_routes(create_app(db=tmp_path_factory.mktemp("docs") / "tunes.db", runs_dir=None).routes))


def documented_requests(text: str) -> list[tuple[str, str, str]]:
    """(method, path as written, the row) of every request in the API tables: a cell's `GET /api/x/<id>.abc`
    `.mid` is two paths, the second the first with its suffix swapped; a query (`?lehra=1`) is left off."""
    found, in_table = [], False
    for line in text.splitlines():
        if line.startswith("| request | what |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if not in_table or line.startswith("|---"):
            continue
        first_cell = line.split("|")[1]
        for method, path, more in re.findall(r"`(GET|POST) ([^`?]+)[^`]*`((?:\s*`\.[a-z]+`)*)", first_cell):
            found.append((method, path, line))
            for suffix in re.findall(r"`(\.[a-z]+)`", more):
                found.append((method, re.sub(r"\.[a-z]+$", suffix, path), line))
    return found


def concrete(path: str) -> str:
    """A documented path with its placeholders (`<id>`, `<tala>`) given a value, as a client would send it."""
    return re.sub(r"<[a-z_]+>", "1", path)


def kinds_of(route: APIRoute) -> set[str] | None:
    """The values of a route's `kind` path parameter, where it is an Enum (the file kinds it serves)."""
    for param in route.dependant.path_params:
        kind = param.field_info.annotation
        if param.name == "kind" and isinstance(kind, type) and issubclass(kind, Enum):
            return {k.value for k in kind}
    return None


def test_every_route_is_in_an_api_table_and_every_row_is_a_route(routes):
    documented = documented_requests(DOC.read_text())
    assert len(documented) > 30
    served = [r for r in routes if r.path.startswith("/api/")]
    matched: dict[int, set[str]] = {id(r): set() for r in served}
    for method, path, row in documented:
        hits = [r for r in served if method in r.methods and r.path_regex.match(concrete(path))]
        assert hits, f"docs/web.md documents {method} {path}, which the app does not serve: {row}"
        for r in hits:
            matched[id(r)].add(path)
    missing = [f"{sorted(r.methods)} {r.path}" for r in served if not matched[id(r)]]
    assert not missing, f"routes not in docs/web.md's API tables: {missing}"
    for r in served:
        kinds = kinds_of(r)
        if kinds is not None:
            shown = {p.rsplit(".", 1)[1] for p in matched[id(r)]}
            assert shown == kinds, f"{r.path}: docs/web.md lists {sorted(shown)}, the app serves {sorted(kinds)}"


def test_every_page_is_named_in_the_manual(routes):
    text = DOC.read_text()
    pages = [r for r in routes if not r.path.startswith("/api/") and "GET" in r.methods and r.path not in NOT_PAGES]
    assert len(pages) >= 8
    unnamed = [r.path for r in pages if f"`{re.sub(r'{[^}]+}', '<id>', r.path)}`" not in text]
    assert not unnamed, f"pages docs/web.md does not name: {unnamed}"
