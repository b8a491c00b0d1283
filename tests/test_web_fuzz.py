"""A property test over the whole HTTP API: whatever a client sends, the answer is never a 5xx.

Every route of the app (those in its OpenAPI schema and the pages left out
of it) is sent random requests: path ids small, existing, negative and past
SQLite's 64-bit integers; query values of every JSON kind; bodies that are
any JSON at all (wrong types, huge and non-finite numbers written as JSON
text, lone surrogates, nesting), or the request's own fields, each kept,
dropped or given a wrong or extreme value, with fields it does not have.
The answer must be below 500, and the server must still answer after.

The app runs on the shipped models and a fresh database; a request may ask
for at most two pieces, so the generations that succeed stay small.
Hypothesis runs derandomized: the same examples every run.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunesmith.web.app import create_app
from tunesmith.web.service import Limits

EXAMPLES = int(os.environ.get("TUNESMITH_FUZZ_EXAMPLES", 400))  # about 45 s on a shared 2-core machine
JIG = "X:1\nT:The Fuzz Jig\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA d2e|fdf ecA|d3 d2:|\n"
# JSON text for numbers Python's json writes no other way: placed where these markers stand.
RAW = {"__HUGE__": "1e309", "__TINY__": "-1e400", "__NAN__": "NaN", "__INF__": "Infinity", "__NINF__": "-Infinity",
       "__BIGINT__": "9" * 400, "__FRAC__": "1.5e-400"}
seen: Counter = Counter()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(db=tmp_path_factory.mktemp("fuzz") / "tunes.db", runs_dir=None, limits=Limits(max_tunes=2))


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    """The app with one saved tune and one tabla composition (ids 1), so existing ids are fuzzed too."""
    client = TestClient(app, raise_server_exceptions=False)
    assert client.post("/api/tunes", json={"abc": JIG}).status_code == 201
    made = client.post("/api/tabla/generate", json={"n": 1, "seed": 1, "cycles": 1})
    assert made.status_code == 200, made.text
    return client


def routes(app) -> list[tuple[str, str, list[str], list[str], dict | None]]:
    """(method, path template, path params, query params, body schema) of every route, schema'd or not."""
    schema = app.openapi()
    components = schema["components"]["schemas"]
    out = []
    for route in api_routes(app.routes):
        for method in sorted(route.methods):
            body = None
            if route.body_field is not None:
                op = schema["paths"].get(re.sub(r":int}", "}", route.path), {}).get(method.lower(), {})
                ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
                body = components[ref["$ref"].rsplit("/", 1)[1]] if "$ref" in ref else {"properties": {}}
            out.append((method, route.path, [p.name for p in route.dependant.path_params],
                        [q.name for q in route.dependant.query_params], body))
    return out


def api_routes(found: list):
    """The APIRoutes of an app, in its included routers too (FastAPI keeps those as routers of their own;
    a route's path has its own router's prefix, and the app includes none with a prefix of its own)."""
    for route in found:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            assert not getattr(getattr(route, "include_context", None), "prefix", ""), "a prefixed include"
            yield from api_routes(route.original_router.routes)


# -- values ---------------------------------------------------------------------

huge_ints = st.sampled_from([2**63 - 1, 2**63, 2**64, -2**63 - 1, 10**30, -(10**30)])
finite = st.floats(allow_nan=False, allow_infinity=False)
raw = st.sampled_from(sorted(RAW))
texts = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),  # lone surrogates
    st.sampled_from(["", " ", "\ud800", "a\udfffb", "X:1\nT:\ud800\nK:D\nabc|\n", "1/3", "1", "true", "null",
                     "' OR 1=1 --", "../../etc/passwd", "<script>alert(1)</script>", "teentaal", "6/8", "D"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), huge_ints, finite,
                    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324]), raw, texts)
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(texts, inner, max_size=4)), max_leaves=12)

# Values a field might sensibly get, by name, to reach past the type checks into the services.
PLAUSIBLE = {
    "n": [1, 2, 0, 3, -1], "seed": [0, 1, 2**63 - 1, 2**63], "temperature": [0.5, 1, 10, 10.5, 1e-300, 0],
    "top_p": [None, 1, 0.9, 1e-300, 0, 1.5], "top_k": [None, 1, 5, 10_000, 0, 10**9],
    "max_length": [None, 128, 200, 127, 16, 9000], "primer": [None, "", "|:d2B AFA|", "X:1\nT:x\nK:D\n", "theka"],
    "model": [None, "default", "tabla", "nope", "../models/default"],
    "meter": [None, "6/8", "C|", "7/3", "1/64", "4/1", "0/4"], "length": [None, "1/8", "1/3", "1/64", "1/1"],
    "rhythm": [None, "jig", "reel\n\nX:2"], "key": [None, "D", "Ador", "H"],
    "tala": ["teentaal", "rupak", "jhaptaal", "nope"], "cycles": [1, 2, 0, 65], "tempo": [90, 1, 1000, 0.5, 5000],
    "theka": [False, True], "drone": [False, True],
    "abc": [JIG, "", "X:1\nK:D\n", JIG + "\n" + JIG, "abc"], "parent": [None, 1, 0, -1, 2**63, 10**30],
}


@st.composite
def bodies(draw, schema: dict):
    """A request body as JSON text: any JSON, or the request's fields each kept, dropped or spoiled."""
    shape = draw(st.sampled_from(["fields", "fields", "fields", "any", "text"]))
    if shape == "text":
        return draw(st.sampled_from(["", "hello", "{", "[1, 2", "{\"n\": }", "\x00\x01", "{\"n\": 1}{}", "null"]))
    if shape == "any":
        value = draw(anything)
    else:
        value = {}
        for name in schema.get("properties", {}):
            how = draw(st.sampled_from(["plausible", "plausible", "plausible", "drop", "any"]))
            if how == "plausible" and name in PLAUSIBLE:
                value[name] = draw(st.sampled_from(PLAUSIBLE[name]))
            elif how == "any":
                value[name] = draw(anything)
        if draw(st.booleans()) and draw(st.booleans()):
            value[draw(texts)] = draw(anything)  # a field it does not have
        if draw(st.booleans()) and draw(st.booleans()):
            value = [value] if draw(st.booleans()) else {"body": value}  # nested one level too deep
    text = json.dumps(value)  # ensure_ascii: lone surrogates travel as \\udXXX escapes
    for marker, spelled in RAW.items():
        text = text.replace(json.dumps(marker), spelled)
    return text


path_ids = st.one_of(st.integers(0, 3).map(str), huge_ints.map(lambda i: str(abs(i))),
                     st.sampled_from(["-1", "1.0", "0x10", "1e3", "%00", "abc", "1;DROP TABLE tunes", "9" * 40]))
query_values = st.one_of(scalars.map(lambda v: v if isinstance(v, str) else json.dumps(v)), path_ids)
kinds = st.sampled_from(["abc", "mid", "svg", "txt", "wav", "exe", "", "ABC", "mid.mid"])


@st.composite
def requests(draw, table):
    method, template, path_params, query_params, body = draw(st.sampled_from(table))
    path = template
    for name in path_params:
        value = draw(kinds) if name == "kind" else draw(path_ids)
        path = path.replace("{" + name + ":int}", value).replace("{" + name + "}", value)
    query = {}
    for name in query_params:
        if draw(st.booleans()):
            query[name] = draw(query_values)
    content = draw(bodies(body)) if body is not None else None
    return method, template, path, query, content


# -- the property -----------------------------------------------------------------

def test_no_request_gets_a_5xx(app, client):
    table = routes(app)
    assert {"/api/generate", "/api/tabla/generate", "/api/check", "/api/tunes", "/tune/{tune_id:int}/inside",
            "/archive"} <= {path for _, path, *_ in table}
    started = time.monotonic()

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests(table))
    def check(request):
        method, template, path, query, content = request
        headers = {"content-type": "application/json"} if content is not None else {}
        # A lone surrogate goes as the bytes a raw client would send (%ED%A0%80): no encoder writes it.
        url = path + ("?" + "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in query.items())
                      if query else "")
        response = client.request(method, url, content=content, headers=headers)
        seen[(method, template, response.status_code)] += 1
        assert response.status_code < 500, (method, path, query, content, response.text[:500])
        if response.headers.get("content-type", "").startswith("application/json"):
            json.loads(response.text, parse_constant=_not_json)  # the answer is JSON any client can read

    check()
    assert client.get("/api/models").status_code == 200  # the server still answers
    statuses = Counter()
    for (_, _, status), count in seen.items():
        statuses[status] += count
    for (method, path, status), count in sorted(seen.items()):
        print(f"  {method} {path} {status}: {count}")
    print(f"\n{sum(statuses.values())} requests in {time.monotonic() - started:.0f} s; statuses {dict(sorted(statuses.items()))}")
    assert statuses[200] + statuses[201] > 0 and statuses[422] > 0  # it reached the services and the checks


def _not_json(constant: str):
    raise AssertionError(f"{constant} in an answer: not JSON")
