"""Helpers for dgramd's integration tests.

Each test file is one scenario group: it starts the real dgramd binary
with a temporary config, talks to it through real sockets and clients,
stops it, and prints "ok NAME" or "not ok NAME" per test (tests/run.sh
counts those lines). Only loopback addresses and unix sockets in a
temporary directory are used.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DGRAMD = os.environ.get("DGRAMD", os.path.join(ROOT, "dgramd"))
TIMEOUT = 10.0


class Dgramd:
    """A running dgramd with a config written to a temp directory."""

    def __init__(self, conf, tmpdir=None, env=None, args=(), expect=None, pass_fds=()):
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="dgramd-test-")
        self.conf_path = os.path.join(self.tmp, "dgramd.conf")
        self.write_conf(conf)
        self.lines = []
        self.cond = threading.Condition()
        self.addrs = {}
        e = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                  "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            e.pop(k, None)
        if env:
            e.update(env)
        self.proc = subprocess.Popen([DGRAMD, "-c", self.conf_path] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=e, pass_fds=pass_fds)
        self.pid = self.proc.pid
        self.out_lines = []
        threading.Thread(target=self._reader, args=(self.proc.stderr, self.lines),
                         daemon=True).start()
        threading.Thread(target=self._reader, args=(self.proc.stdout, self.out_lines),
                         daemon=True).start()
        if expect is None:
            expect = len(re.findall(r'type\s*=\s*"(?:udp4|udp6|unix_dgram)"', conf))
        if expect:
            self.wait_listening(expect)

    def write_conf(self, conf):
        with open(self.conf_path, "w") as f:
            f.write(conf)

    def _reader(self, stream, into):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                into.append(line)
                m = re.match(r"^(?:<\d>)?dgramd: listening (\S+) (\S+) (.+)$", line)
                if m and into is self.lines:
                    self.addrs[m.group(1)] = (m.group(2), m.group(3))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pattern, start=0, timeout=TIMEOUT, stream=None):
        """Waits for a line matching pattern at index >= start; returns (index, match)."""
        lines = self.lines if stream is None else stream
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(lines)):
                    m = rx.search(lines[i])
                    if m:
                        return i, m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no line matching %r; stderr:\n%s"
                                         % (pattern, "\n".join(self.lines[-30:])))
                if self.proc.poll() is not None and not self.cond.wait(0.2):
                    raise AssertionError("dgramd exited %s before %r; stderr:\n%s"
                                         % (self.proc.returncode, pattern,
                                            "\n".join(self.lines[-30:])))
                self.cond.wait(min(left, 0.5))

    def wait_listening(self, n, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while sum(1 for l in self.lines if " listening " in l) < n:
                if self.proc.poll() is not None:
                    self.cond.wait(0.2)
                    raise AssertionError("dgramd exited %s; stderr:\n%s"
                                         % (self.proc.returncode, "\n".join(self.lines)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("not listening; stderr:\n" + "\n".join(self.lines))
                self.cond.wait(min(left, 0.5))

    def udp(self, name):
        """(host, port) of a udp socket from its listening line."""
        typ, a = self.addrs[name]
        m = re.match(r"^\[?([^\]]+?)\]?:(\d+)$", a)
        host = m.group(1)
        if host in ("0.0.0.0",):
            host = "127.0.0.1"
        if host == "::":
            host = "::1"
        return host, int(m.group(2))

    def port(self, name):
        return self.udp(name)[1]

    def path(self, name):
        return self.addrs[name][1]

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def stats(self, name, timeout=TIMEOUT):
        """Sends SIGUSR2 and returns the stats of socket name as a dict of ints."""
        start = len(self.lines)
        self.send_signal(signal.SIGUSR2)
        _, m = self.wait_line(r"dgramd: stats %s (.*)$" % re.escape(name), start, timeout)
        return {k: int(v) for k, v in re.findall(r"(\S+?)=(\d+)", m.group(1))}

    def wait_stat(self, name, key, value, timeout=TIMEOUT):
        """Polls stats until key >= value; returns the stats."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats(name)
            if st.get(key, -1) >= value or time.monotonic() > deadline:
                return st
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("dgramd did not stop on signal %d" % sig)
        time.sleep(0.05)
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def run_dgramd(args, timeout=TIMEOUT, env=None):
    """Runs dgramd to completion (for -t, -h, errors); returns (rc, stdout, stderr)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([DGRAMD] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=e)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def udp_client(family=socket.AF_INET, bind=None, timeout=2.0):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    if bind is not None:
        s.bind(bind)
    return s


def unix_client(path=None, timeout=2.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    if path is not None:
        s.bind(path)
    return s


def no_reply(sock, wait=0.3):
    """True when nothing arrives on sock within wait seconds."""
    sock.settimeout(wait)
    try:
        sock.recvfrom(70000)
        return False
    except socket.timeout:
        return True


def no_local_resolver():
    """True (after a skip line) when the test does not run under tests/netns.sh,
    whose resolver is on loopback. A test that resolves a name through DNS
    (any name but localhost and numeric ones) must not run then: the system
    resolver may ask a server off this host. Use: if no_local_resolver(): return "skip"."""
    if os.environ.get("DGRAMD_TEST_RESOLVER"):
        return False
    print("skip: no resolver on loopback (tests/netns.sh, which needs root)", flush=True)
    return True


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def eq(a, b, msg=""):
    if a != b:
        raise AssertionError("%s%r != %r" % (msg + ": " if msg else "", a, b))


def main(ns):
    """Runs every test_* function of module namespace ns; prints ok / not ok."""
    names = sorted(n for n in ns if n.startswith("test_") and callable(ns[n]))
    only = sys.argv[1:]
    bad = 0
    for n in names:
        if only and n not in only:
            continue
        t0 = time.monotonic()
        try:
            r = ns[n]()
            if r == "skip":
                print("skip %s" % n, flush=True)
                continue
            print("ok %s (%.2fs)" % (n, time.monotonic() - t0), flush=True)
        except Exception:
            bad += 1
            print("not ok %s" % n, flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    sys.exit(1 if bad else 0)
