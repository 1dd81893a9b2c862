#!/usr/bin/env python3
"""End-to-end tests of wschatd's static file server: content and types,
HEAD, large files with a pipelined request behind them, directories,
conditional requests, and above all that nothing outside the web root is
ever served (dot segments however encoded, NULs, symbolic links)."""

import atexit
import email.utils
import os
import tempfile

import wstest
from wstest import Daemon, HTTPReader, one, request, tcp_connect

MTIME = 1700000000          # Tue, 14 Nov 2023 22:13:20 GMT
SECRET = b"SECRET-" + os.urandom(8).hex().encode() + b"-DO-NOT-SERVE"

FILES = {
    "index.html": b"<!doctype html><title>root</title><p>index\n",
    "style.css": b"body { color: #333 }\n",
    "app.js": b"console.log('app');\n",
    "img.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "data.json": b'{"a": [1, 2, 3]}\n',
    "notes.txt": b"some notes\nsecond line\n",
    "noext": b"no extension here\n",
    "empty.txt": b"",
    "sub/index.html": b"<!doctype html><title>sub</title><p>sub index\n",
    "sub/page.html": b"<!doctype html><p>sub page\n",
    "noindex/file.txt": b"a file in a directory without index.html\n",
}
TYPES = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "img.png": "image/png",
    "data.json": "application/json",
    "notes.txt": "text/plain; charset=utf-8",
    "noext": "application/octet-stream",
    "sub/page.html": "text/html; charset=utf-8",
}
BIG = 5 * 1024 * 1024

_state = {}
_seen = []                  # every response body received, for the secret


def setup():
    """Build the web root (and its outside neighbours) and start the
    daemon, once."""
    if "d" in _state:
        return _state["d"], _state["root"]
    tmp = tempfile.TemporaryDirectory(prefix="wschatd-static-")
    _state["tmp"] = tmp
    root = os.path.join(tmp.name, "www")
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(os.path.join(root, "noindex"))
    for name, data in FILES.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(BIG))
    os.utime(os.path.join(root, "notes.txt"), (MTIME, MTIME))
    # Outside the root, beside it.
    with open(os.path.join(tmp.name, "secret"), "wb") as f:
        f.write(SECRET)
    os.makedirs(os.path.join(tmp.name, "outside"))
    for name in ("secret", "index.html"):
        with open(os.path.join(tmp.name, "outside", name), "wb") as f:
            f.write(SECRET)
    # A sibling whose name starts with the root's: a prefix check alone
    # would take it for the inside.
    os.makedirs(root + "-evil")
    with open(os.path.join(root + "-evil", "secret"), "wb") as f:
        f.write(SECRET)
    os.symlink("notes.txt", os.path.join(root, "link-in"))
    os.symlink("../notes.txt", os.path.join(root, "sub", "link-up"))
    os.symlink(os.path.join(tmp.name, "secret"),
               os.path.join(root, "link-out"))
    os.symlink("../secret", os.path.join(root, "link-out-rel"))
    os.symlink(os.path.join(tmp.name, "outside"),
               os.path.join(root, "linkdir-out"))
    os.symlink("../www-evil/secret", os.path.join(root, "link-sibling"))
    _state["root"] = root
    _state["d"] = Daemon(workers=2, webroot=root)
    return _state["d"], root


@atexit.register
def _cleanup():
    if "d" in _state:
        _state["d"].stop()
    if "tmp" in _state:
        _state["tmp"].cleanup()


def port():
    return setup()[0].port


def content(name):
    with open(os.path.join(setup()[1], name), "rb") as f:
        return f.read()


# ---------------------------------------------------------------- helpers


def connect():
    return tcp_connect(port(), timeout=10)


class Reader(HTTPReader):
    """An HTTPReader that waits up to 10 s for a response and keeps every
    head, body and stray bytes it reads in _seen."""

    def __init__(self, sock):
        super().__init__(sock, timeout=10.0)

    def keep(self, data):
        _seen.append(data)


def fetch(path, method="GET", extra=""):
    s = connect()
    try:
        s.sendall(request(path, method, extra))
        return Reader(s).response(head_only=(method == "HEAD"))
    finally:
        s.close()


def expect_status_and_close(path, status):
    s = connect()
    try:
        s.sendall(request(path))
        r = Reader(s)
        st, h, body = r.response()
        assert st == status, "%r: %d, expected %d (%r)" % (
            path, st, status, body[:100])
        assert one(h, "connection") == "close", h
        r.expect_eof()
        assert SECRET not in body, path
        return h, body
    finally:
        s.close()


def check_file(path, name):
    st, h, body = fetch(path)
    assert st == 200, (path, st)
    assert body == content(name), (path, body[:100])
    assert one(h, "content-length") == str(len(content(name))), h
    assert one(h, "x-content-type-options") == "nosniff", h
    lm = one(h, "last-modified")
    mtime = os.stat(os.path.join(setup()[1], name)).st_mtime
    assert lm == email.utils.formatdate(int(mtime), usegmt=True), (lm, mtime)
    return h


# ---------------------------------------------------------------- files


def test_root_serves_index_html():
    h = check_file("/", "index.html")
    assert one(h, "content-type") == "text/html; charset=utf-8", h
    h = check_file("/index.html", "index.html")
    assert one(h, "content-type") == "text/html; charset=utf-8", h


def test_content_types():
    for name, ctype in TYPES.items():
        h = check_file("/" + name, name)
        assert one(h, "content-type") == ctype, (name, h)


def test_last_modified_is_the_file_mtime():
    _, h, _ = fetch("/notes.txt")
    assert one(h, "last-modified") == "Tue, 14 Nov 2023 22:13:20 GMT", h


def test_head_has_headers_and_no_body():
    for name in ("index.html", "img.png", "big.bin"):
        _, hget, _ = fetch("/" + name)
        s = connect()
        try:
            # HEAD, then a GET on the same connection: a body after the
            # HEAD's head would be taken for the next status line.
            s.sendall(request("/" + name, "HEAD"))
            r = Reader(s)
            st, h, _ = r.response(head_only=True)
            assert st == 200, (name, st)
            for k in ("content-length", "content-type", "last-modified"):
                assert one(h, k) == one(hget, k), (name, k, h, hget)
            r.expect_open()
            assert r.buf == b"", "HEAD %s sent a body: %r" % (name, r.buf)
            s.sendall(request("/notes.txt"))
            st, _, body = r.response()
            assert (st, body) == (200, content("notes.txt")), (st, body)
        finally:
            s.close()


def test_big_file_byte_identical_with_pipelined_request():
    big = content("big.bin")
    s = connect()
    try:
        s.sendall(request("/big.bin") + request("/notes.txt"))
        r = Reader(s)
        st, h, body = r.response(timeout=30)
        assert st == 200, st
        assert one(h, "content-length") == str(BIG), h
        assert one(h, "content-type") == "application/octet-stream", h
        assert len(body) == BIG and body == big, "5 MiB body differs"
        st, h, body = r.response()
        assert (st, body) == (200, content("notes.txt")), (st, body[:100])
        r.expect_open()
    finally:
        s.close()


def test_empty_file():
    st, h, body = fetch("/empty.txt")
    assert (st, body) == (200, b""), (st, body)
    assert one(h, "content-length") == "0", h
    # Nothing follows the empty body: the next response comes cleanly.
    s = connect()
    try:
        s.sendall(request("/empty.txt") + request("/noext"))
        r = Reader(s)
        assert r.response()[::2] == (200, b"")
        assert r.response()[::2] == (200, content("noext"))
    finally:
        s.close()


def test_directory_without_slash_redirects():
    h, _ = expect_status_and_close("/sub", 301)
    assert one(h, "location") == "/sub/", h


def test_directory_with_slash_serves_its_index():
    h = check_file("/sub/", "sub/index.html")
    assert one(h, "content-type") == "text/html; charset=utf-8", h
    check_file("/sub/page.html", "sub/page.html")


def test_directory_without_index_is_404():
    expect_status_and_close("/noindex/", 404)
    check_file("/noindex/file.txt", "noindex/file.txt")


def test_missing_file_is_404():
    expect_status_and_close("/missing", 404)
    expect_status_and_close("/sub/missing.html", 404)
    expect_status_and_close("/index.html/x", 404)


def test_query_string_is_ignored():
    st, h, body = fetch("/notes.txt?x=1")
    assert (st, body) == (200, content("notes.txt")), (st, body)
    assert one(h, "content-type") == "text/plain; charset=utf-8", h
    st, _, body = fetch("/?a=b&c=%2e%2e")
    assert (st, body) == (200, content("index.html")), (st, body[:80])


def test_percent_encoded_names_are_decoded():
    st, _, body = fetch("/n%6Ftes.txt")
    assert (st, body) == (200, content("notes.txt")), (st, body)


# ---------------------------------------------------------------- escapes


def test_dot_segments_are_400():
    for path in ("/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/sub/%2E%2E/%2E%2E/secret", "/sub/../../secret",
                 "/sub/..", "/sub/%2e%2E", "/./index.html",
                 "/../secret", "/%2e%2e/secret"):
        expect_status_and_close(path, 400)


def test_encoded_slash_is_400():
    for path in ("/sub/..%2fsecret", "/sub/..%2F..%2Fsecret",
                 "/sub%2fpage.html"):
        expect_status_and_close(path, 400)


def test_encoded_nul_is_400():
    for path in ("/%00", "/notes.txt%00.html", "/%0"):
        expect_status_and_close(path, 400)


def test_symlink_out_of_root_is_404():
    for path in ("/link-out", "/link-out-rel", "/linkdir-out/secret",
                 "/linkdir-out/", "/linkdir-out", "/link-sibling"):
        expect_status_and_close(path, 404)


def test_symlink_inside_root_is_served():
    st, _, body = fetch("/link-in")
    assert (st, body) == (200, content("notes.txt")), (st, body)
    st, _, body = fetch("/sub/link-up")
    assert (st, body) == (200, content("notes.txt")), (st, body)


def test_secret_never_appears():
    # Run the escapes again (for TEST_ONLY runs) and scan everything seen.
    test_dot_segments_are_400()
    test_encoded_slash_is_400()
    test_symlink_out_of_root_is_404()
    for chunk in _seen:
        assert SECRET not in chunk, "the secret outside the root was served"


# ---------------------------------------------------------------- conditional


def test_if_modified_since_equal_is_304():
    lm = "Tue, 14 Nov 2023 22:13:20 GMT"
    s = connect()
    try:
        s.sendall(request("/notes.txt",
                          extra="If-Modified-Since: %s\r\n" % lm) +
                  request("/healthz"))
        r = Reader(s)
        st, h, _ = r.response(head_only=True)
        assert st == 304, st
        assert one(h, "last-modified") == lm, h
        # No body: the very next bytes are the second response.
        st, _, body = r.response()
        assert (st, body) == (200, b"ok\n"), (st, body)
    finally:
        s.close()


def test_if_modified_since_later_is_304():
    st, _, _ = fetch("/notes.txt", extra="If-Modified-Since: "
                     "Wed, 15 Nov 2023 00:00:00 GMT\r\n")
    assert st == 304, st


def test_if_modified_since_old_is_200():
    st, _, body = fetch("/notes.txt", extra="If-Modified-Since: "
                        "Tue, 14 Nov 2023 22:13:19 GMT\r\n")
    assert (st, body) == (200, content("notes.txt")), (st, body)
    st, _, body = fetch("/notes.txt", extra="If-Modified-Since: "
                        "Thu, 01 Jan 1970 00:00:00 GMT\r\n")
    assert (st, body) == (200, content("notes.txt")), (st, body)


def test_if_modified_since_garbage_is_200():
    st, _, body = fetch("/notes.txt", extra="If-Modified-Since: yesterday\r\n")
    assert (st, body) == (200, content("notes.txt")), (st, body)


if __name__ == "__main__":
    wstest.main()
