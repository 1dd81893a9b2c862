"""The man pages against the code: clean under groff and mandoc, every
setting wschatd -t -d prints documented in wschatd.conf(5) with its
default, every option of wschatd -h in wschatd(8) and of wschat --help in
wschat(1), so that the pages cannot silently fall behind."""

import os
import re
import subprocess
import tempfile

from wstest import SRCDIR, WSCHATD, main

BUILDDIR = os.path.dirname(os.path.abspath(WSCHATD))
WSCHAT = os.environ.get("WSCHAT", os.path.join(BUILDDIR, "wschat"))
PAGES = ["man/wschatd.8", "man/wschatd.conf.5", "man/wschat.1"]

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
    with an empty file as configuration (not the installed one)."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        p = run([WSCHATD, "-t", "-d", "-c", f.name,
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


if __name__ == "__main__":
    main()
