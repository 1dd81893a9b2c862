"""The man pages and the protocol reference against the code: the pages
clean under groff and mandoc, every setting wschatd -t -d prints
documented in wschatd.conf(5) with its default, every option of wschatd -h
in wschatd(8) and of wschat --help in wschat(1); and every message type,
error code, close code and line command found in src/ in
docs/PROTOCOL.md and wschat-protocol(7), so that neither the pages nor
the document can silently fall behind."""

import functools
import glob
import os
import re
import subprocess
import tempfile

from wstest import SRCDIR, WSCHATD, main

BUILDDIR = os.path.dirname(os.path.abspath(WSCHATD))
WSCHAT = os.environ.get("WSCHAT", os.path.join(BUILDDIR, "wschat"))
PAGES = ["man/wschatd.8", "man/wschatd.conf.5", "man/wschat.1",
         "man/wschat-protocol.7"]
PROTOCOL = os.path.join(SRCDIR, "docs", "PROTOCOL.md")
PROTOCOL_PAGE = "man/wschat-protocol.7"

# mandoc -Tlint messages that are no fault of a page:
#  - manuals it refers to that are not installed on this machine (wschatd's
#    own pages before make install, nc(1), logrotate(8), ...);
#  - a stale whatis database of the machine;
#  - "no blank before trailing delimiter" for quoted output that really
#    ends in a colon, as the line protocol's 'error:' and 'system:'
#    prefixes, where \& would only obscure the source.
MANDOC_IGNORE = re.compile(
    r"STYLE: referenced manual not found|"
    r"outdated mandoc\.db|"
    r"STYLE: no blank before trailing delimiter: Sq [a-z]+:$")


def page(name):
    with open(os.path.join(BUILDDIR, name)) as f:
        return f.read()


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def settings():
    """The keys of every effective setting, as wschatd -t -d prints them,
    with an empty file as configuration (not the installed one), for a
    foreground run (-f), which needs no pidfile's directory."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        p = run([WSCHATD, "-t", "-d", "-f", "-c", f.name,
                 "-o", "webroot=" + os.path.join(SRCDIR, "www")])
    assert p.returncode == 0, p.stderr
    keys = [line.split()[0] for line in p.stdout.splitlines() if line.strip()]
    assert len(keys) > 10, p.stdout
    return keys


def conf5_entries():
    """{key: text of its entry} from the .It Ic lines of wschatd.conf(5)."""
    entries, key = {}, None
    for line in page("man/wschatd.conf.5").splitlines():
        m = re.match(r"\.It Ic (\S+)", line)
        if m:
            key = m.group(1)
            entries[key] = ""
        elif line.startswith((".El", ".Sh")):
            key = None
        elif key:
            entries[key] += line + "\n"
    return entries


def documented_flags(text):
    """Every flag named by Fl on an .It line (the option lists)."""
    flags = set()
    for line in text.splitlines():
        if line.startswith(".It "):
            flags.update("-" + f for f in re.findall(r"\bFl (\S+)", line))
    return flags


# groff warnings that are no fault of a page: a substituted path too long
# for the line, as make distcheck's, which has no place to break, or
# which leaves too little on its line to adjust.  Which one, if any,
# depends on how long the build directory's name is.
GROFF_IGNORE = re.compile(r"warning .*: (can't break|cannot adjust) line$")


def test_pages_are_clean_under_groff():
    for name in PAGES:
        p = run(["groff", "-man", "-ww", "-z", os.path.join(BUILDDIR, name)])
        bad = [line for line in p.stderr.splitlines()
               if not GROFF_IGNORE.search(line)]
        assert p.returncode == 0 and not bad, "%s:\n%s" % (
            name, "\n".join(bad))


def test_pages_are_clean_under_mandoc_lint():
    bad = []
    for name in PAGES:
        p = run(["mandoc", "-Tlint", "-Wstyle", os.path.join(BUILDDIR, name)])
        bad += [line for line in (p.stdout + p.stderr).splitlines()
                if line and not MANDOC_IGNORE.search(line)]
    assert not bad, "\n".join(bad)


def test_no_unsubstituted_paths():
    for name in PAGES + ["scripts/init.d/wschatd"]:
        left = re.findall(r"@[a-z_]+@", page(name))
        assert not left, "%s: %s" % (name, left)


def test_every_setting_is_documented_with_its_default():
    entries = conf5_entries()
    missing = [k for k in settings() if k not in entries]
    assert not missing, "not in wschatd.conf(5): %s" % " ".join(missing)
    nodefault = [k for k, text in entries.items() if "Default" not in text]
    assert not nodefault, "no default in wschatd.conf(5): %s" % \
        " ".join(nodefault)


def test_every_documented_setting_exists():
    keys = set(settings())
    stale = [k for k in conf5_entries() if k not in keys]
    assert not stale, "in wschatd.conf(5) but not in wschatd -t -d: %s" % \
        " ".join(stale)


def test_every_option_of_wschatd_is_documented():
    p = run([WSCHATD, "-h"])
    assert p.returncode == 0, p.stderr
    opts = re.findall(r"^\s+(-[A-Za-z])\b", p.stdout, re.M)
    assert len(opts) > 5, p.stdout
    text = page("man/wschatd.8")
    flags = documented_flags(text)
    missing = [o for o in opts if o not in flags]
    assert not missing, "not in wschatd(8): %s" % " ".join(missing)
    synopsis = text.split(".Sh SYNOPSIS")[1].split(".Sh ")[0]
    missing = [o for o in opts
               if not re.search(r"Fl [a-zA-Z]*%s" % o[1], synopsis)]
    assert not missing, "not in the SYNOPSIS of wschatd(8): %s" % \
        " ".join(missing)


def test_every_option_of_wschat_is_documented():
    p = run([WSCHAT, "--help"])
    assert p.returncode == 0, p.stderr
    opts = set()
    for line in p.stdout.splitlines():
        m = re.match(r"\s+(-[-\w]+(?:, -[-\w]+)*)", line)
        if m:
            opts.update(m.group(1).split(", "))
    assert "--pipe" in opts and "-n" in opts, opts
    flags = documented_flags(page("man/wschat.1"))
    missing = sorted(o for o in opts if o not in flags)
    assert not missing, "not in wschat(1): %s" % " ".join(missing)


# ------------------------------------------------------------------------
# docs/PROTOCOL.md and wschat-protocol(7) against src/.
#
# What the server says is read from the C sources, not from a list kept
# here: every src/*.c and src/*.h, whichever file the code has moved to.
# Each extractor insists on finding a plausible number of things, so that
# a change of the code's shape that it no longer understands fails loudly
# instead of checking nothing.

# A C string or character literal (kept), or a comment (dropped).
C_TOKEN = re.compile(r'("(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\')'
                     r"|/\*.*?\*/|//[^\n]*", re.S)


@functools.lru_cache()
def sources(exts=(".c", ".h")):
    """{path: text without its comments} of every source file in src/."""
    out = {}
    for path in sorted(glob.glob(os.path.join(SRCDIR, "src", "*"))):
        if path.endswith(exts):
            with open(path, encoding="utf-8") as f:
                out[path] = C_TOKEN.sub(
                    lambda m: m.group(1) or " ", f.read())
    assert len(out) >= 5, "no sources in %s/src" % SRCDIR
    return out


def functions(text):
    """(name, body) of each function defined in text, written as style(9)
    has it: the name at the start of a line, the braces in column 0."""
    return re.findall(r"^(\w+)\s*\([^;{]*?\)\s*\n\{\n(.*?)^\}", text,
                      re.S | re.M)


def code_message_types():
    """The names of chat_type_name()'s table: the table of { "name",
    CHAT_X } pairs that holds "handshake"."""
    names = set()
    for text in sources().values():
        for block in re.findall(r"=\s*\{(.*?)\}\s*;", text, re.S):
            if '"handshake"' in block:
                names.update(re.findall(
                    r'\{\s*"([a-z_]+)"\s*,\s*CHAT_[A-Z_]+\s*\}', block))
        # Or a switch, should the table become one.
        names.update(re.findall(
            r'case\s+CHAT_[A-Z_]+\s*:\s*return\s*\(?\s*"([a-z_]+)"', text))
    assert {"handshake", "login", "user", "system"} <= names and \
        len(names) >= 8, "the message types were not found in src/: " \
        "update code_message_types() in test_docs.py (found %s)" % names
    return names


def code_error_codes():
    """Every code a system message is sent with: the first string of a
    *system*() call (hub_system(c, "name_taken", ...)), and every string
    assigned to a code member (m.code = CHAT_STR("lost_messages"),
    cmd->code = "...", .code.p = "...")."""
    codes = {}
    pats = [r'\b\w*system\w*\s*\(\s*(?:[\w>.-]+\s*,\s*)?"([a-z][a-z0-9_]*)"',
            r'\bcode\b(?:\.p)?\s*=\s*(?:CHAT_STR\s*\(\s*)?"([a-z][a-z0-9_]*)"']
    for path, text in sources((".c",)).items():
        for pat in pats:
            for code in re.findall(pat, text):
                codes.setdefault(code, os.path.basename(path))
    assert {"name_taken", "bad_message", "lost_messages"} <= set(codes) \
        and len(codes) >= 10, "the error codes were not found in src/: " \
        "update code_error_codes() in test_docs.py (found %s)" % codes
    return codes


def code_close_codes():
    """{code: constant} of every WS_CLOSE_* that the server may send:
    all those defined but 1005 and 1006, which RFC 6455 forbids on the
    wire."""
    codes = {}
    for text in sources().values():
        for name, num in re.findall(r"#define\s+(WS_CLOSE_\w+)\s+(\d{4})\b",
                                    text):
            codes[int(num)] = name
    assert {1000, 1001, 1002, 1009} <= set(codes), \
        "the WS_CLOSE_ constants were not found in src/: update " \
        "code_close_codes() in test_docs.py (found %s)" % codes
    return {n: c for n, c in codes.items() if n not in (1005, 1006)}


def code_close_uses():
    """The WS_CLOSE_* constants used anywhere in src/*.c."""
    used = set()
    for text in sources((".c",)).values():
        used.update(re.findall(r"\b(WS_CLOSE_\w+)\b",
                               re.sub(r"#define[^\n]*", "", text)))
    return used


def code_line_commands():
    """The line protocol's command words: the lower-case words a function
    of the line protocol (one with "line" as a word of its name) compares
    a line with, or lists in a table with "line" in its name.  The client's
    own functions (wschat_, wsclient_) are not the server's protocol."""
    cmds = set()
    cmp = r'\b(?:memcmp|strncmp|strcmp|strncasecmp|strcasecmp)\s*\(' \
          r'[^;{}]*?"([^"]*)"'
    for text in sources((".c",)).values():
        for name, body in functions(text):
            if re.search(r"(^|_)line(_|$)", name) and \
                    not name.startswith(("wschat_", "wsclient_")):
                cmds.update(w.strip() for w in re.findall(cmp, body))
        for block in re.findall(
                r"\b\w*line\w*\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;", text, re.S):
            cmds.update(w.strip() for w in re.findall(r'"([^"]*)"', block))
    cmds = {w for w in cmds if re.fullmatch(r"[a-z]+", w)}
    assert {"who", "rename", "to"} <= cmds, \
        "the line commands were not found in src/: update " \
        "code_line_commands() in test_docs.py (found %s)" % cmds
    return cmds


def protocol_sections():
    """{heading: text} of the ## sections of docs/PROTOCOL.md."""
    with open(PROTOCOL, encoding="utf-8") as f:
        text = f.read()
    parts = re.split(r"^## +(.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def protocol_section(pattern):
    """The text of the one section whose heading matches pattern."""
    found = [t for h, t in protocol_sections().items()
             if re.search(pattern, h, re.I)]
    assert len(found) == 1, "docs/PROTOCOL.md: %d sections match %r" % (
        len(found), pattern)
    return found[0]


def first_cells(text):
    """The first cell of every body row of the Markdown tables in text
    (not of their header rows)."""
    lines = text.splitlines() + [""]
    sep = re.compile(r"\|[\s:|-]+\|?\s*$")
    return [re.match(r"\|([^|]*)", line).group(1).strip()
            for line, after in zip(lines, lines[1:])
            if line.startswith("|") and not sep.match(line) and
            not sep.match(after)]


def ticked(text):
    """{word} of the first cells that are one `word` each."""
    return {m.group(1) for m in (re.fullmatch(r"`([^`\s]+)`", c)
                                 for c in first_cells(text)) if m}


def test_every_message_type_is_in_the_protocol_document():
    documented = ticked(protocol_section(r"^\d+\. Chat on /ws"))
    missing = sorted(code_message_types() - documented)
    assert not missing, "message types in src/ without a row in a table " \
        "of docs/PROTOCOL.md, \"Chat on /ws\": %s" % " ".join(missing)


def test_every_error_code_is_in_the_protocol_document():
    documented = ticked(protocol_section(r"^\d+\. Error codes"))
    codes = code_error_codes()
    missing = sorted("%s (%s)" % (c, f) for c, f in codes.items()
                     if c not in documented)
    assert not missing, "error codes in src/ without a row in " \
        "docs/PROTOCOL.md, \"Error codes\": %s" % " ".join(missing)


def test_every_close_code_is_in_the_protocol_document():
    rows = first_cells(protocol_section(r"close codes"))
    missing = sorted("%d (%s)" % (n, c) for n, c in
                     code_close_codes().items() if str(n) not in rows)
    assert not missing, "close codes in src/ without a row in " \
        "docs/PROTOCOL.md, \"Closing, and the close codes\": %s" % \
        " ".join(missing)


def test_every_line_command_is_in_the_protocol_document():
    cells = first_cells(protocol_section(r"line protocol"))
    missing = sorted(c for c in code_line_commands()
                     if not any(re.match(r"`%s[ `]" % c, x) for x in cells))
    assert not missing, "line commands in src/ without a row in " \
        "docs/PROTOCOL.md, \"The line protocol\": %s" % " ".join(missing)


def test_the_protocol_document_names_nothing_the_code_lacks():
    stale = []
    types = ticked(protocol_section(r"^\d+\. Chat on /ws"))
    # The first cells there are message types, and the notices without a
    # code, which are no type.
    notices = {"joined"}
    stale += ["type " + t for t in sorted(types - code_message_types())
              if re.fullmatch(r"[a-z_]+", t) and t not in notices]
    stale += ["code " + c for c in sorted(
        ticked(protocol_section(r"^\d+\. Error codes")) -
        set(code_error_codes()))]
    known = code_close_codes()
    stale += ["close code " + c for c in first_cells(
        protocol_section(r"close codes")) if re.fullmatch(r"\d{4}", c) and
        int(c) not in known]
    assert not stale, "in docs/PROTOCOL.md but not found in src/ " \
        "(gone, or only planned: move it to \"Not yet\"): %s" % \
        ", ".join(stale)


def test_close_codes_said_never_sent_are_never_used():
    table = protocol_section(r"close codes")
    used = code_close_uses()
    wrong = []
    for n, const in sorted(code_close_codes().items()):
        row = re.search(r"^\|\s*%d\s*\|.*$" % n, table, re.M)
        if row and "never sent" in row.group(0) and const in used:
            wrong.append("%d (%s)" % (n, const))
    assert not wrong, "docs/PROTOCOL.md says these close codes are never " \
        "sent, but src/ uses them: %s" % " ".join(wrong)


def test_the_protocol_page_has_every_code_type_and_command():
    text = page(PROTOCOL_PAGE)
    items = set(re.findall(r"^\.It (?:Cm )?(\S+)", text, re.M))
    missing = ["error code " + c for c in sorted(code_error_codes())
               if c not in items]
    missing += ["close code %d" % n for n in sorted(code_close_codes())
                if str(n) not in items]
    missing += ["message type " + t for t in sorted(code_message_types())
                if t not in items]
    missing += ["line command " + c for c in sorted(code_line_commands())
                if c not in items]
    assert not missing, "not in wschat-protocol(7): %s" % ", ".join(missing)


def test_settings_named_in_the_protocol_document_exist():
    table = protocol_section(r"Limits")
    named = {c.strip("`") for c in first_cells(table)
             if re.fullmatch(r"`[a-z_]+`", c)}
    assert len(named) > 10, named
    stale = sorted(named - set(settings()))
    assert not stale, "docs/PROTOCOL.md, \"Limits and timeouts\", names " \
        "settings wschatd does not have: %s" % " ".join(stale)


if __name__ == "__main__":
    main()
