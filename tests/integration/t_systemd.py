"""systemd integration: the notify protocol against a fake NOTIFY_SOCKET
(READY=1 with STATUS= after the listening lines, RELOADING=1 with
MONOTONIC_USEC= then READY=1 on SIGHUP, STOPPING=1 on SIGTERM, WATCHDOG=1 at
half of WATCHDOG_USEC, periodic STATUS=), and the fd store: the sockets
dgramd bound are stored as "store/NAME", a second dgramd started with them
(as systemd does) loses no datagram, stale stored sockets are dropped, and
reload stores new sockets and removes the ones gone from the config."""
import array
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time

import dgtest
from dgtest import Dgramd, check, eq, main, udp_client, unix_client

HERE = os.path.dirname(os.path.abspath(__file__))
SD_LISTEN = os.path.join(HERE, "sd_listen.py")


def mono_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notify:
    """A fake systemd notify socket: collects (time, fields, fds) messages."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.msgs = []
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            fds = array.array("i")
            try:
                data, anc, _, _ = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(16 * fds.itemsize))
            except OSError:
                return
            for lvl, typ, cdata in anc:
                if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
            text = data.decode()
            fields = {}
            for line in text.split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            with self.cond:
                self.msgs.append((time.monotonic(), fields, list(fds), text))
                self.cond.notify_all()

    def env(self):
        return {"NOTIFY_SOCKET": self.path}

    def wait(self, pred, start=0, timeout=dgtest.TIMEOUT, what="message"):
        """Waits for a message at index >= start for which pred(fields) holds;
        returns its index."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.msgs)):
                    if pred(self.msgs[i][1]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s; got %r" % (what, [m[3] for m in self.msgs]))
                self.cond.wait(left)

    def count(self, pred, start=0):
        with self.cond:
            return sum(1 for m in self.msgs[start:] if pred(m[1]))

    def close(self):
        self.sock.close()
        for _, _, fds, _ in self.msgs:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass


def ready(f):
    return f.get("READY") == "1"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def echo_conf(tmp, port=0, extra=""):
    return """
sockets = (
  { name = "u4"; type = "udp4"; address = "127.0.0.1"; port = %d;
    handlers = ( { type = "echo"; } ); },
  { name = "ux"; type = "unix_dgram"; path = "%s/echo.sock";
    handlers = ( { type = "echo"; } ); }%s
);
""" % (port, tmp, extra)


def echo_once(d, name="u4", payload=b"ping"):
    c = udp_client()
    c.sendto(payload, d.udp(name))
    data, _ = c.recvfrom(100)
    c.close()
    eq(data, payload, "echo on %s" % name)


def start_passing(conf, tmp, fds, names, env=None, expect=None, listen_pid=None):
    """Starts dgramd with fds passed as LISTEN_FDS/LISTEN_FDNAMES."""
    e = {"SD_LISTEN_TEST_FDS": ",".join(str(f) for f in fds),
         "SD_LISTEN_TEST_EXEC": dgtest.DGRAMD,
         "LISTEN_FDNAMES": ":".join(names)}
    if listen_pid is not None:
        e["SD_LISTEN_TEST_PID"] = str(listen_pid)
    e.update(env or {})
    saved = dgtest.DGRAMD
    dgtest.DGRAMD = SD_LISTEN
    try:
        return Dgramd(conf, tmpdir=tmp, env=e, pass_fds=fds, expect=expect)
    finally:
        dgtest.DGRAMD = saved


def test_ready_after_listening_with_status():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    d = Dgramd(echo_conf(tmp), tmpdir=tmp, env=n.env(), expect=0)
    with d:
        i = n.wait(ready, what="READY=1")
        # dgramd wrote the listening lines before READY=1: they are there
        # and the sockets answer at once.
        d.wait_listening(2, timeout=2)
        echo_once(d)
        f = n.msgs[i][1]
        check(re.match(r"^2 sockets, 0 datagrams received, 0 dropped or failed$",
                       f.get("STATUS", "")), "READY=1 carries a STATUS: %r" % n.msgs[i][3])
        eq(n.count(ready), 1, "one READY=1")
        eq(d.stop(), 0)
        n.wait(lambda f: f.get("STOPPING") == "1", what="STOPPING=1")
    n.close()


def test_reload_and_stop_notifications():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    d = Dgramd(echo_conf(tmp), tmpdir=tmp, env=n.env())
    with d:
        n.wait(ready, what="READY=1")
        start = len(n.msgs)
        before = mono_usec()
        d.send_signal(signal.SIGHUP)
        i = n.wait(lambda f: f.get("RELOADING") == "1", start, what="RELOADING=1")
        after = mono_usec()
        usec = int(n.msgs[i][1].get("MONOTONIC_USEC", "0"))
        check(before <= usec <= after,
              "MONOTONIC_USEC=%d within [%d, %d]" % (usec, before, after))
        j = n.wait(ready, i + 1, what="READY=1 after RELOADING=1")
        check(j > i)
        # An invalid config: RELOADING=1, then READY=1 with a STATUS saying so.
        d.write_conf("sockets = ( { name = \"x\"; type = \"udp9\"; } );\n")
        start = len(n.msgs)
        d.send_signal(signal.SIGHUP)
        i = n.wait(lambda f: f.get("RELOADING") == "1", start, what="RELOADING=1")
        j = n.wait(ready, i + 1, what="READY=1 after a failed reload")
        check("fail" in n.msgs[j][1].get("STATUS", ""), "STATUS says the reload failed: %r"
              % n.msgs[j][3])
        check("%s:1: sockets.[0].type: must be udp4 | udp6 | unix_dgram, got \"udp9\"" %
              d.conf_path in n.msgs[j][1].get("STATUS", ""),
              "STATUS names the line and setting: %r" % n.msgs[j][3])
        echo_once(d)
        start = len(n.msgs)
        eq(n.count(lambda f: "STOPPING" in f), 0, "no STOPPING=1 before SIGTERM")
        eq(d.stop(), 0)
        n.wait(lambda f: f.get("STOPPING") == "1", start, what="STOPPING=1")
    n.close()


def test_watchdog_pace():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    env = dict(n.env(), WATCHDOG_USEC="400000")
    d = Dgramd(echo_conf(tmp), tmpdir=tmp, env=env)
    with d:
        i = n.wait(ready, what="READY=1")
        t0 = n.msgs[i][0]
        n.wait(lambda f: f.get("WATCHDOG") == "1", i, what="WATCHDOG=1")
        time.sleep(1.5)
        with n.cond:
            pings = [m[0] for m in n.msgs[i:] if m[1].get("WATCHDOG") == "1"
                     and m[0] <= t0 + 1.5]
        # Every 200 ms: 7 in 1.5 s; generous bounds for a loaded machine.
        check(5 <= len(pings) <= 9, "%d WATCHDOG=1 in 1.5 s, expected about 7" % len(pings))
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        check(all(0.1 <= g <= 0.4 for g in gaps), "gaps between pings: %r" % gaps)
        # A stuck process sends none (the pings come from the event loop).
        d.send_signal(signal.SIGSTOP)
        time.sleep(0.1)
        stopped = len(n.msgs)
        time.sleep(0.6)
        eq(n.count(lambda f: f.get("WATCHDOG") == "1", stopped), 0, "pings while stopped")
        d.send_signal(signal.SIGCONT)
        n.wait(lambda f: f.get("WATCHDOG") == "1", stopped, what="WATCHDOG=1 again")
        eq(d.stop(), 0)
    n.close()


def test_watchdog_other_pid_or_none():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    # WATCHDOG_PID names another process: the watchdog is not ours.
    env = dict(n.env(), WATCHDOG_USEC="200000", WATCHDOG_PID="1")
    d = Dgramd(echo_conf(tmp), tmpdir=tmp, env=env)
    with d:
        n.wait(ready, what="READY=1")
        time.sleep(0.5)
        eq(n.count(lambda f: "WATCHDOG" in f), 0, "no pings for another pid's watchdog")
        eq(d.stop(), 0)
    n.close()


def test_status_updates():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    d = Dgramd(echo_conf(tmp), tmpdir=tmp, env=n.env())
    with d:
        i = n.wait(ready, what="READY=1")
        for _ in range(3):
            echo_once(d)
        # The summary is refreshed every 5 seconds.
        j = n.wait(lambda f: "STATUS" in f and "READY" not in f, i + 1, timeout=8,
                   what="a periodic STATUS=")
        check(4.0 <= n.msgs[j][0] - n.msgs[i][0] <= 7.0, "STATUS after about 5 s")
        eq(n.msgs[j][1]["STATUS"], "2 sockets, 3 datagrams received, 0 dropped or failed")
        eq(d.stop(), 0)
    n.close()


def stored(n, start=0):
    """{name: fd} of the FDSTORE=1 messages received."""
    out = {}
    with n.cond:
        for _, f, fds, _ in n.msgs[start:]:
            if f.get("FDSTORE") == "1":
                eq(len(fds), 1, "one fd per FDSTORE=1")
                eq(f.get("FDPOLL"), "0", "FDPOLL=0")
                out[f["FDNAME"]] = fds[0]
    return out


def test_fdstore_restart_loses_nothing():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    d1 = Dgramd(echo_conf(tmp), tmpdir=tmp, env=n.env())
    path = os.path.join(tmp, "echo.sock")
    with d1:
        i = n.wait(ready, what="READY=1")
        n.wait(lambda f: f.get("FDNAME") == "store/ux", i, what="FDSTORE=1 of ux")
        n.wait(lambda f: f.get("FDNAME") == "store/u4", i, what="FDSTORE=1 of u4")
        st = stored(n)
        eq(sorted(st), ["store/u4", "store/ux"])
        addr = d1.udp("u4")
        eq(socket.socket(fileno=os.dup(st["store/u4"])).getsockname(), addr,
           "the stored fd is the u4 socket")
        # The socket holds what arrives while no dgramd runs: room for the
        # whole stream, since a sanitizer build on a loaded machine takes
        # longer to start than the default buffer lasts (~260 datagrams).
        s4 = socket.socket(fileno=os.dup(st["store/u4"]))
        try:
            s4.setsockopt(socket.SOL_SOCKET, 33, 1 << 22)   # SO_RCVBUFFORCE, as root
        except OSError:
            s4.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s4.close()

        # A numbered stream the whole time; replies are collected.
        c = udp_client(timeout=0.2)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        got = set()
        sent = [0]
        done = threading.Event()

        def receiver():
            while not (done.is_set() and len(got) >= sent[0]):
                try:
                    data, _ = c.recvfrom(100)
                    got.add(int(data))
                except socket.timeout:
                    if done.is_set():
                        return

        def sender(limit):
            k = 0
            while k < limit and not done.is_set():
                c.sendto(b"%d" % k, addr)
                k += 1
                sent[0] = k
                time.sleep(0.001)

        rt = threading.Thread(target=receiver, daemon=True)
        rt.start()
        st_thread = threading.Thread(target=lambda: sender(5000), daemon=True)
        st_thread.start()
        while sent[0] < 200:
            time.sleep(0.01)
        eq(d1.stop(), 0)
        gap_start = sent[0]
        check(os.path.exists(path), "the stored unix socket's file stays after stop")
        names = ["store/u4", "store/ux"]
        mark = len(n.msgs)
        d2 = start_passing(echo_conf(tmp), tmp, [st[k] for k in names], names, env=n.env())
        with d2:
            eq(d2.udp("u4"), addr, "same address and port after the restart")
            n.wait(ready, mark, what="READY=1 of the second dgramd")
            gap = sent[0] - gap_start
            check(gap > 0, "datagrams sent while no dgramd ran: %d" % gap)
            time.sleep(0.2)
            done.set()
            st_thread.join(10)
            total = sent[0]
            deadline = time.monotonic() + 5
            while len(got) < total and time.monotonic() < deadline:
                time.sleep(0.05)
            rt.join(10)
            missing = sorted(set(range(total)) - got)
            eq(missing[:20], [], "datagrams lost across the restart (of %d)" % total)
            check(total >= 200, "sent %d" % total)
            # Taken back, not stored again; the unix socket serves too.
            check(any("u4: taken back from systemd's fd store" in l for l in d2.lines),
                  "notice of the taken-back socket")
            eq(sorted(stored(n, mark)), [], "no second FDSTORE=1 for sockets stored already")
            u = unix_client(os.path.join(tmp, "client.sock"))
            u.sendto(b"unix", path)
            eq(u.recvfrom(100)[0], b"unix")
            eq(d2.stop(), 0)
        c.close()
    n.close()


def test_fdstore_stale_entries_are_dropped():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    port = free_port()
    gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gone.bind(("127.0.0.1", 0))
    moved = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    moved.bind(("127.0.0.1", 0))
    fds = [gone.fileno(), moved.fileno()]
    d = start_passing(echo_conf(tmp, port=port), tmp, fds, ["store/gone", "store/u4"],
                      env=n.env())
    with d:
        # Not fatal: both stored sockets are closed and removed from the store,
        # and u4 is bound afresh on the configured port.
        eq(d.udp("u4"), ("127.0.0.1", port))
        echo_once(d)
        n.wait(lambda f: f.get("FDSTOREREMOVE") == "1" and f.get("FDNAME") == "store/gone",
               what="FDSTOREREMOVE of store/gone")
        n.wait(lambda f: f.get("FDSTOREREMOVE") == "1" and f.get("FDNAME") == "store/u4",
               what="FDSTOREREMOVE of the stale store/u4")
        d.wait_line(r"gone: dropping the socket kept in systemd's fd store: no socket")
        d.wait_line(r"u4: dropping the socket kept in systemd's fd store: bound to another")
        n.wait(lambda f: f.get("FDSTORE") == "1" and f.get("FDNAME") == "store/u4",
               what="FDSTORE=1 of the new u4")
        eq(d.stop(), 0)
    gone.close()
    moved.close()
    n.close()


def test_fdstore_follows_reload():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    extra = """,
  { name = "extra"; type = "unix_dgram"; path = "%s/extra.sock";
    handlers = ( { type = "echo"; } ); }""" % tmp
    port = free_port()
    d = Dgramd(echo_conf(tmp, port=port), tmpdir=tmp, env=n.env())
    with d:
        i = n.wait(ready, what="READY=1")
        n.wait(lambda f: f.get("FDNAME") == "store/u4", i, what="FDSTORE=1 of u4")
        n.wait(lambda f: f.get("FDNAME") == "store/ux", i, what="FDSTORE=1 of ux")
        d.write_conf(echo_conf(tmp, port=port, extra=extra))
        mark = len(n.msgs)
        d.send_signal(signal.SIGHUP)
        n.wait(lambda f: f.get("FDSTORE") == "1" and f.get("FDNAME") == "store/extra", mark,
               what="FDSTORE=1 of the socket added by reload")
        eq(sorted(stored(n, mark)), ["store/extra"], "only the new socket is stored")
        # Remove ux: it leaves the store and its file goes.
        d.write_conf("""
sockets = (
  { name = "u4"; type = "udp4"; address = "127.0.0.1"; port = %d;
    handlers = ( { type = "echo"; } ); }%s
);""" % (port, extra))
        mark = len(n.msgs)
        d.send_signal(signal.SIGHUP)
        n.wait(lambda f: f.get("FDSTOREREMOVE") == "1" and f.get("FDNAME") == "store/ux",
               mark, what="FDSTOREREMOVE=1 of the removed socket")
        n.wait(ready, mark, what="READY=1")
        check(not os.path.exists(os.path.join(tmp, "echo.sock")), "removed socket's file gone")
        eq(n.count(lambda f: "FDSTOREREMOVE" in f and f.get("FDNAME") != "store/ux", mark), 0)
        eq(d.stop(), 0)
        check(os.path.exists(os.path.join(tmp, "extra.sock")), "stored socket file kept")
    n.close()


def test_fdstore_rename_and_abstract_socket():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    n = Notify(tmp)
    abstract = "@dgramd-test-%d" % os.getpid()
    conf = """
sockets = ( { name = "%s"; type = "unix_dgram"; path = "%s";
              handlers = ( { type = "echo"; } ); } );
"""
    d1 = Dgramd(conf % ("ab", abstract), tmpdir=tmp, env=n.env())
    with d1:
        n.wait(lambda f: f.get("FDNAME") == "store/ab", what="FDSTORE=1 of ab")
        first = stored(n)["store/ab"]
        # Renamed by a reload, same socket: stored again under the new name.
        d1.write_conf(conf % ("ab2", abstract))
        mark = len(n.msgs)
        d1.send_signal(signal.SIGHUP)
        i = n.wait(lambda f: f.get("FDSTOREREMOVE") == "1" and f.get("FDNAME") == "store/ab",
                   mark, what="FDSTOREREMOVE=1 of the old name")
        j = n.wait(lambda f: f.get("FDSTORE") == "1" and f.get("FDNAME") == "store/ab2",
                   mark, what="FDSTORE=1 of the new name")
        check(i < j, "the old name is removed before the new one is stored")
        second = stored(n, mark)["store/ab2"]
        eq(os.fstat(second).st_ino, os.fstat(first).st_ino, "the same socket")
        eq(d1.stop(), 0)
        mark = len(n.msgs)
        d2 = start_passing(conf % ("ab2", abstract), tmp, [second], ["store/ab2"], env=n.env())
        with d2:
            d2.wait_line(r"ab2: taken back from systemd's fd store")
            u = unix_client(os.path.join(tmp, "client.sock"))
            u.sendto(b"abs", "\0" + abstract[1:])
            eq(u.recvfrom(100)[0], b"abs")
            eq(d2.stop(), 0)
    n.close()


def test_no_notify_socket_removes_files():
    # Without a notify socket (no systemd) there is no fd store: stop
    # removes the unix socket files dgramd created, as before.
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    d = Dgramd(echo_conf(tmp), tmpdir=tmp)
    with d:
        check(os.path.exists(os.path.join(tmp, "echo.sock")))
        eq(d.stop(), 0)
        check(not os.path.exists(os.path.join(tmp, "echo.sock")), "file removed on stop")


if __name__ == "__main__":
    main(globals())
