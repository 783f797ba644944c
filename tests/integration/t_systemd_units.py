"""The unit files in systemd/: "make install" substitutes the install paths;
the installed sysusers.d file creates the static user the units run as;
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


def test_static_user_from_sysusers():
    """The units run as the user the installed sysusers.d file creates, not
    a dynamic one (which would make /run/dgramd private to root)."""
    sysusers = shutil.which("systemd-sysusers")
    if sysusers is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-sysusers-")
    p = subprocess.run(["make", "-s", "-C", ROOT, "-o", "dgramd", "install", "DESTDIR=" + tmp,
                        "PREFIX=/usr", "SYSUSERSDIR=/usr/lib/sysusers.d",
                        "SYSTEMDUNITDIR=/usr/lib/systemd/system"],
                       capture_output=True, timeout=300)
    eq(p.returncode, 0, "make install: %s" % p.stderr.decode()[-500:])
    check(b"run systemd-sysusers" in p.stdout, "a staged install says to run systemd-sysusers")
    os.makedirs(os.path.join(tmp, "etc"), exist_ok=True)
    p = subprocess.run([sysusers, "--root=" + tmp], capture_output=True, timeout=60)
    eq(p.returncode, 0, "systemd-sysusers --root: %s" % p.stderr.decode())
    with open(os.path.join(tmp, "etc/passwd")) as f:
        users = [l.split(":") for l in f.read().splitlines()]
    mine = [u for u in users if u[0] == "dgramd"]
    eq(len(mine), 1, "one user dgramd in %r" % users)
    check(0 < int(mine[0][2]) < 1000, "a system uid: %s" % mine[0][2])
    check(mine[0][6].endswith("nologin"), "no login shell: %s" % mine[0][6])
    with open(os.path.join(tmp, "etc/group")) as f:
        check(any(l.startswith("dgramd:") for l in f), "group dgramd")
    for u in ["dgramd.service", "dgramd@.service"]:
        with open(os.path.join(tmp, "usr/lib/systemd/system", u)) as f:
            lines = f.read().splitlines()
        check("DynamicUser=no" in lines and "User=dgramd" in lines and "Group=dgramd" in lines,
              "%s runs as the static user dgramd" % u)
        check("RuntimeDirectoryMode=0755" in lines, "%s: a public /run/dgramd" % u)
        reload_ = [l for l in lines if l.startswith("ExecReload=")]
        eq(len(reload_), 1, "%s: one ExecReload=" % u)
        check(reload_[0].startswith("ExecReload=/bin/sh -c '/usr/sbin/dgramctl -s /run/dgramd/"),
              "%s: reload through dgramctl: %s" % (u, reload_[0]))
        prevent = [l for l in lines if l.startswith("RestartPreventExitStatus=")]
        eq(prevent, ["RestartPreventExitStatus=64 71 78 217"], u)
    shutil.rmtree(tmp)


def exec_reload(control, conf):
    """The shipped dgramd.service's ExecReload= as systemd runs it: $$ and
    ${MAINPID} expanded, the paths pointed at a test's dgramd."""
    with open(os.path.join(ROOT, "systemd", "dgramd.service")) as f:
        line = [l for l in f.read().splitlines() if l.startswith("ExecReload=")][0]
    m = re.match(r"^ExecReload=/bin/sh -c '(.*)'$", line)
    check(m, line)
    cmd = m.group(1).replace("$$", "$")
    cmd = cmd.replace("@sbindir@/dgramctl", os.path.join(ROOT, "dgramctl"))
    cmd = cmd.replace("@sbindir@/dgramd", dgtest.DGRAMD)
    cmd = cmd.replace("/run/dgramd/control", control)
    cmd = cmd.replace("@sysconfdir@/dgramd/dgramd.conf", conf)
    return cmd


def test_exec_reload_fails_on_a_rejected_config():
    """systemctl reload's command: through the control socket it waits for
    the outcome (exit 1 on a rejected file or a port in use); without a
    control socket it checks the file, then sends SIGHUP."""
    tmp = tempfile.mkdtemp(prefix="dgramd-reload-")
    good = ('sockets = ( { name = "e"; type = "udp4"; address = "127.0.0.1"; port = 0; '
            'handlers = ( { type = "echo"; } ); } );\n')
    bad = good.replace("port = 0", "port = 99999")
    for with_control in (True, False):
        text = ('control_socket = "%s/control";\n' % tmp if with_control else "") + good
        with dgtest.Dgramd(text, tmpdir=tmp) as d:
            cmd = exec_reload(tmp + "/control", d.conf_path)
            env = dict(os.environ, MAINPID=str(d.pid))
            run = lambda: subprocess.run(["/bin/sh", "-c", cmd.replace("${MAINPID}", str(d.pid))],
                                         capture_output=True, text=True, timeout=30, env=env)
            start = len(d.lines)
            p = run()
            eq(p.returncode, 0, p.stdout + p.stderr)
            d.wait_line(r"reloaded ", start)
            d.write_conf((text.split("sockets")[0]) + bad)
            start = len(d.lines)
            p = run()
            check(p.returncode != 0, "a rejected file fails the reload")
            check("sockets.[0].port" in p.stderr, p.stderr)
            if with_control:
                check(p.stderr.startswith("dgramctl: %s:" % d.conf_path), p.stderr)
            else:
                check(not any("reloading" in l for l in d.lines[start:]),
                      "the rejected file was not sent")
            eq(d.stop(), 0)


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
