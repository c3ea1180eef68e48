"""The web client's files on the HTTP listener: the known paths only, right content types, a
strict Content-Security-Policy, and nothing in the shipped files that would run user text."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from memnet import MemoryNet
from test_http import HTTP_CONFIG, ask, get, parse

import chat.web
from chat.web import FILES, MAX_FILE


def static(name: str) -> bytes:
    return resources.files("chat.web").joinpath("static", name).read_bytes()


@pytest.mark.parametrize(("path", "name", "content_type"), [
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/index.html", "index.html", "text/html; charset=utf-8"),
    ("/app.js", "app.js", "text/javascript; charset=utf-8"),
    ("/style.css", "style.css", "text/css; charset=utf-8"),
    ("/favicon.svg", "favicon.svg", "image/svg+xml"),
])
def test_each_file_is_served_with_its_type_and_the_policy(path: str, name: str,
                                                          content_type: str) -> None:
    code, headers, body = get(MemoryNet(HTTP_CONFIG), path)
    assert code == 200
    assert body == static(name)
    assert headers["content-type"] == content_type
    assert headers["content-length"] == str(len(body))
    assert headers["x-content-type-options"] == "nosniff"
    policy = dict(part.strip().split(" ", 1) for part in
                  headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"].startswith("'self'")
    assert "unsafe" not in headers["content-security-policy"]


def test_head_of_the_page_has_its_length_and_no_body() -> None:
    code, headers, body = get(MemoryNet(HTTP_CONFIG), "/", method="HEAD")
    assert code == 200 and body == b""
    assert headers["content-length"] == str(len(static("index.html")))


@pytest.mark.parametrize("path", [
    "/../pyproject.toml", "/static/app.js", "/chat/web/static/app.js", "/%2e%2e/chat/config.py",
    "/app.js/..", "//app.js", "/APP.JS", "/index.html%00", "/./app.js", "/web/__init__.py",
])
def test_only_the_known_paths_are_served(path: str) -> None:
    code, _, body = get(MemoryNet(HTTP_CONFIG), path)
    assert code == 404 and body.startswith(b"Not found")


def test_a_query_string_still_gets_the_page() -> None:
    code, _, body = get(MemoryNet(HTTP_CONFIG), "/?nick=x")
    assert code == 200 and body == static("index.html")


def test_the_host_header_goes_into_the_policy_only_when_it_is_a_host() -> None:
    net = MemoryNet(HTTP_CONFIG)
    _, raw = ask(net, b"GET / HTTP/1.1\r\nHost: chat.example:8080\r\n\r\n")
    policy = parse(raw)[1]["content-security-policy"]
    assert "connect-src 'self' ws://chat.example:8080 wss://chat.example:8080;" in policy
    _, raw = ask(net, b"GET / HTTP/1.1\r\nHost: x; script-src *\r\n\r\n")
    policy = parse(raw)[1]["content-security-policy"]
    assert "connect-src 'self';" in policy and "script-src *" not in policy


def test_a_file_missing_from_the_install_is_a_500_not_a_crash(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FILES, b"/gone.js", ("gone.js", "text/javascript; charset=utf-8"))
    net = MemoryNet(HTTP_CONFIG)
    code, _, body = get(net, "/gone.js")
    assert code == 500 and b"not installed" in body
    assert get(net, "/healthz")[0] == 200  # the server carries on


def test_every_shipped_file_is_within_the_bound() -> None:
    for name, _ in set(FILES.values()):
        assert 0 < len(static(name)) <= MAX_FILE, name
    chat.web._read.cache_clear()


def test_the_page_has_no_inline_script_or_style() -> None:
    """What the policy would block anyway must not be there to begin with."""
    page = static("index.html").decode()
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert 'src="/' in tag, tag
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", page) is None  # no script body
    assert re.search(r"\son[a-z]+\s*=", page, re.IGNORECASE) is None  # no onclick=...
    assert re.search(r"\sstyle\s*=", page, re.IGNORECASE) is None
    assert "<style" not in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere


def test_the_script_never_writes_markup() -> None:
    """User text reaches the page through textContent only: no HTML-parsing sink at all."""
    script = static("app.js").decode()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", "srcdoc", "createContextualFragment", "DOMParser"):
        assert sink not in script, sink
    assert "textContent" in script
