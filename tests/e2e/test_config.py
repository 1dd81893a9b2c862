"""The shipped wschatd.conf, -t, -c and -o against the real binary."""

import os
import subprocess
import tempfile

from wstest import SRCDIR, WSCHATD, main

WWW = os.path.join(SRCDIR, "www")


def wschatd(*args):
    p = subprocess.run([WSCHATD] + list(args), capture_output=True,
                       text=True, timeout=10)
    return p.returncode, p.stdout, p.stderr


# -t checks the pidfile the run would take; these check settings, so they
# check a foreground run (-f), which takes none unless it is configured:
# the built-in one's directory need not exist before make install.


def test_shipped_conf_matches_the_built_in_defaults():
    # -t -d prints every setting: the sample file must say the defaults.
    rc1, out1, err1 = wschatd("-t", "-d", "-f", "-o", "webroot=" + WWW)
    rc2, out2, err2 = wschatd("-t", "-d", "-f", "-c",
                              os.path.join(SRCDIR, "wschatd.conf"),
                              "-o", "webroot=" + WWW)
    assert rc1 == 0 and rc2 == 0, (err1, err2)
    assert "configuration ok" in err2
    assert out1 == out2, "wschatd.conf differs from the defaults:\n%s\n%s" % (
        out1, out2)
    assert "max_message_size 1048576" in out1


def test_options_override_the_file_in_order():
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write("max_message_size 2m\nworkers 3\n")
        f.flush()
        rc, out, err = wschatd("-t", "-d", "-f", "-c", f.name, "-o",
                               "webroot=" + WWW, "-o", "workers=5",
                               "-w", "7")
    assert rc == 0, err
    assert "max_message_size 2097152" in out
    assert "workers 7" in out


def test_bad_line_is_reported_with_file_and_line():
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write("# comment\nworkers 2\nmax_headers lots\n")
        f.flush()
        rc, out, err = wschatd("-t", "-c", f.name, "-o", "webroot=" + WWW)
    assert rc == 1
    assert "%s:3: max_headers: bad number" % f.name in err, err


def test_missing_webroot_is_an_error():
    rc, out, err = wschatd("-t", "-o", "webroot=/nonexistent/www")
    assert rc == 1
    assert "webroot /nonexistent/www" in err, err


def test_usage_errors_exit_2():
    rc, out, err = wschatd("-x")
    assert rc == 2 and "usage:" in err
    rc, out, err = wschatd("extra-argument")
    assert rc == 2


if __name__ == "__main__":
    main()
