"""The unit files in systemd/: "make install" substitutes the install paths;
systemd-analyze verify accepts every unit without a warning, and
systemd-analyze security --offline=yes rates dgramd.service and the
dgramd@.service template at an exposure of 2.5 or lower (printed)."""
import os
import re
import shutil
import subprocess
import tempfile

import dgtest
from dgtest import check, eq, main

ROOT = dgtest.ROOT
UNITS = ["dgramd.service", "dgramd@.service", "dgramd.socket", "dgramd-relay.socket"]
ANALYZE = shutil.which("systemd-analyze")


def substituted(sbindir, sysconfdir):
    """Temp copies of the units with the placeholders substituted as make
    install does (ExecStart= runs the binary under test); returns the
    directory."""
    tmp = tempfile.mkdtemp(prefix="dgramd-units-")
    for u in UNITS:
        with open(os.path.join(ROOT, "systemd", u)) as f:
            text = f.read()
        text = text.replace("@sbindir@/dgramd", dgtest.DGRAMD).replace("@sbindir@", sbindir).replace("@sysconfdir@", sysconfdir)
        check(not re.search(r"@[a-z_]+@", text), "%s: unsubstituted placeholder" % u)
        with open(os.path.join(tmp, u), "w") as f:
            f.write(text)
    return tmp


def analyze(*args):
    p = subprocess.run([ANALYZE] + list(args), capture_output=True, timeout=60,
                       env=dict(os.environ, SYSTEMD_LOG_COLOR="0", SYSTEMD_COLORS="0",
                                SYSTEMD_PAGER=""))
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def test_install_substitutes_paths():
    # -o dgramd: install the binary the tests run, never rebuild it here.
    tmp = tempfile.mkdtemp(prefix="dgramd-install-")
    p = subprocess.run(["make", "-s", "-C", ROOT, "-o", "dgramd", "install", "DESTDIR=" + tmp,
                        "PREFIX=/opt/dg", "SYSTEMDUNITDIR=/opt/dg/units"],
                       capture_output=True, timeout=300)
    eq(p.returncode, 0, "make install: %s" % p.stderr.decode()[-500:])
    units = os.path.join(tmp, "opt/dg/units")
    with open(os.path.join(units, "dgramd.service")) as f:
        text = f.read()
    check("ExecStart=/opt/dg/sbin/dgramd -c /opt/dg/etc/dgramd/dgramd.conf\n" in text,
          "ExecStart follows the prefix")
    with open(os.path.join(units, "dgramd@.service")) as f:
        check("ExecStart=/opt/dg/sbin/dgramd -c /opt/dg/etc/dgramd/%i.conf\n" in f.read())
    for u in UNITS:
        check(os.path.exists(os.path.join(units, u)), "%s installed" % u)
    shutil.rmtree(tmp)


def test_verify():
    if ANALYZE is None:
        return "skip"
    d = substituted(os.path.dirname(dgtest.DGRAMD), "/etc")
    shutil.copy(os.path.join(d, "dgramd@.service"), os.path.join(d, "dgramd@relay.service"))
    for u in ["dgramd.service", "dgramd.socket", "dgramd-relay.socket",
              "dgramd@relay.service"]:
        rc, out = analyze("verify", "--man=no", os.path.join(d, u))
        eq(rc, 0, "verify %s: %s" % (u, out))
        eq(out.strip(), "", "verify %s says nothing" % u)
    # The check itself works: a bad unit is reported.
    with open(os.path.join(d, "broken.service"), "w") as f:
        f.write("[Service]\nType=notify\nExecStart=relative/path\n")
    rc, out = analyze("verify", "--man=no", os.path.join(d, "broken.service"))
    check(rc != 0 or out.strip() != "", "verify reports a broken unit")
    shutil.rmtree(d)


def test_security_exposure():
    if ANALYZE is None:
        return "skip"
    d = substituted(os.path.dirname(dgtest.DGRAMD), "/etc")
    shutil.copy(os.path.join(d, "dgramd@.service"), os.path.join(d, "dgramd@relay.service"))
    for u in ["dgramd.service", "dgramd@relay.service"]:
        rc, out = analyze("security", "--offline=yes", "--no-pager", os.path.join(d, u))
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
        check(m, "no exposure level for %s (exit %d): %s" % (u, rc, out[-400:]))
        score = float(m.group(1))
        print("# %s exposure %.1f" % (u, score), flush=True)
        check(score <= 2.5, "%s exposure %.1f > 2.5" % (u, score))
    shutil.rmtree(d)


if __name__ == "__main__":
    main(globals())
