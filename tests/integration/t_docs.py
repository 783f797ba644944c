"""Docs, shipped configs and install: both man pages lint clean (groff,
mandoc); every file in conf/ passes `dgramd -t` (log directories pointed at
a temp dir); `make install DESTDIR=... PREFIX=/usr` lays out the expected
tree with the unit paths rewritten and `make uninstall` removes it; the
README's tour commands work against conf/dgramd.local.conf."""
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from dgtest import DGRAMD, ROOT, Dgramd, check, eq, main, no_local_resolver, run_dgramd


def have(tool):
    return shutil.which(tool) is not None


def test_man_pages_lint_clean():
    for page in ("man/dgramd.8", "man/dgramd.conf.5", "man/dgramctl.8"):
        p = subprocess.run(["groff", "-man", "-ww", "-z", page], cwd=ROOT,
                           capture_output=True, text=True)
        eq(p.returncode, 0, page)
        eq(p.stderr + p.stdout, "", "groff warnings for " + page)
        if have("mandoc"):
            p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", page], cwd=ROOT,
                               capture_output=True, text=True)
            eq(p.stdout + p.stderr, "", "mandoc -Tlint for " + page)


def test_every_shipped_config_checks():
    # -t resolves the examples' host names (documentation names, which the
    # tests' resolver on loopback answers): never through the system resolver.
    if no_local_resolver():
        return "skip"
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    os.mkdir(os.path.join(t, "run"))
    files = [os.path.join(ROOT, "conf", "dgramd.conf")] + \
        sorted(glob.glob(os.path.join(ROOT, "conf", "*.conf"))) + \
        sorted(glob.glob(os.path.join(ROOT, "conf", "examples", "*.conf")))
    files = sorted(set(files))
    check(len(files) >= 9, "conf/ holds the default, the local and the examples")
    for f in files:
        text = open(f).read().replace("/var/log/dgramd", t)
        copy = os.path.join(t, os.path.basename(f))
        with open(copy, "w") as out:
            out.write(text)
        p = subprocess.run([DGRAMD, "-t", "-c", copy], cwd=t, capture_output=True, text=True,
                           timeout=60)
        eq(p.returncode, 0, "%s: %s" % (f, p.stderr))
        check("configuration OK" in p.stderr, p.stderr)


def test_install_and_uninstall():
    dest = tempfile.mkdtemp(prefix="dgramd-install-")
    unitdir = "/usr/lib/systemd/system"
    env = dict(os.environ, MAKEFLAGS="")
    p = subprocess.run(["make", "-s", "install", "DESTDIR=" + dest, "PREFIX=/usr",
                        "SYSTEMDUNITDIR=" + unitdir, "SYSUSERSDIR=/usr/lib/sysusers.d"],
                       cwd=ROOT, capture_output=True, text=True, env=env)
    eq(p.returncode, 0, p.stderr)
    want = ["usr/sbin/dgramd", "usr/sbin/dgramctl", "usr/share/man/man8/dgramd.8",
            "usr/share/man/man8/dgramctl.8",
            "usr/share/man/man5/dgramd.conf.5", "etc/dgramd/dgramd.conf",
            "etc/logrotate.d/dgramd", unitdir[1:] + "/dgramd.service",
            unitdir[1:] + "/dgramd@.service", unitdir[1:] + "/dgramd.socket",
            "usr/lib/sysusers.d/dgramd.conf"]
    for w in want:
        check(os.path.isfile(os.path.join(dest, w)), "installed " + w)
    check(os.access(os.path.join(dest, "usr/sbin/dgramd"), os.X_OK))
    svc = open(os.path.join(dest, unitdir[1:], "dgramd.service")).read()
    check("ExecStart=/usr/sbin/dgramd -c /etc/dgramd/dgramd.conf" in svc, svc)
    check("@sbindir@" not in svc and "@sysconfdir@" not in svc)
    tmpl = open(os.path.join(dest, unitdir[1:], "dgramd@.service")).read()
    check("/etc/dgramd/%i.conf" in tmpl, tmpl)
    # An existing config is never overwritten.
    conf = os.path.join(dest, "etc/dgramd/dgramd.conf")
    with open(conf, "w") as f:
        f.write("# mine\n")
    p = subprocess.run(["make", "-s", "install", "DESTDIR=" + dest, "PREFIX=/usr",
                        "SYSTEMDUNITDIR=" + unitdir], cwd=ROOT, capture_output=True,
                       text=True, env=env)
    eq(p.returncode, 0, p.stderr)
    eq(open(conf).read(), "# mine\n", "existing config kept")
    p = subprocess.run(["make", "-s", "uninstall", "DESTDIR=" + dest, "PREFIX=/usr",
                        "SYSTEMDUNITDIR=" + unitdir, "SYSUSERSDIR=/usr/lib/sysusers.d"],
                       cwd=ROOT, capture_output=True, text=True, env=env)
    eq(p.returncode, 0, p.stderr)
    left = []
    for dirpath, dirs, files in os.walk(dest):
        left += [os.path.relpath(os.path.join(dirpath, f), dest) for f in files]
    eq(sorted(left), ["etc/dgramd/dgramd.conf"], "only the edited config is left")
    shutil.rmtree(dest)


def sh(cmd, cwd, timeout=10):
    p = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_readme_tour():
    """The commands of README.md's tour, pasted, against conf/dgramd.local.conf."""
    for tool in ("socat", "logger", "node"):
        if not have(tool):
            print("skip: %s missing" % tool)
            return "skip"
    t = tempfile.mkdtemp(prefix="dgramd-tour-")
    os.mkdir(os.path.join(t, "run"))
    # The tour runs ./dgramctl from the checkout's top.
    os.symlink(os.path.join(ROOT, "dgramctl"), os.path.join(t, "dgramctl"))
    readme = open(os.path.join(ROOT, "README.md")).read()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    tour = [b for b in blocks if "socat" in b or "logger" in b or "python3 -c" in b or
            "./dgramctl -s run/control" in b]
    check(len(tour) >= 2, "the tour's command blocks")
    # dgramd resolves relative paths from its working directory: start it in t.
    p = subprocess.Popen([DGRAMD, "-c", os.path.join(ROOT, "conf", "dgramd.local.conf")],
                         cwd=t, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        seen = []
        deadline = time.monotonic() + 10
        while sum(" listening " in l for l in seen) < 5 and time.monotonic() < deadline:
            seen.append(p.stderr.readline().decode())
        check(sum(" listening " in l for l in seen) >= 5, "".join(seen))
        outputs = []
        for block in tour:
            cmd = block.replace("$(pgrep -f 'dgramd -c conf/dgramd.local.conf')", str(p.pid))
            rc, out, err = sh(cmd, t)
            eq(rc, 0, "README block failed:\n%s\n%s" % (block, err))
            outputs.append(out)
        allout = "".join(outputs)
        check(allout.count("hello") >= 5, "echo answers in the tour:\n" + allout)
        check("hello from 127.0.0.1:7007 (5 bytes)" in allout, allout)
        log_dir = os.path.join(t, "run")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if os.path.exists(os.path.join(log_dir, "messages.log")) and \
               "hello, log" in open(os.path.join(log_dir, "messages.log")).read():
                break
            time.sleep(0.05)
        if "logger" in "".join(tour):
            check("hello, log" in open(os.path.join(log_dir, "messages.log")).read())
    finally:
        p.send_signal(signal.SIGTERM)
        eq(p.wait(10), 0)
    check(not os.path.exists(os.path.join(t, "run", "echo.sock")), "socket files removed")


if __name__ == "__main__":
    main(globals())
