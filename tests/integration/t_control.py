"""Watching and controlling dgramd live: dgramctl over the control socket
(status, stats as text, JSON checked with jq, Prometheus checked with
promtool, reload with a good and a broken file, reopen after a rotation,
sockets, targets, top driven in tmux), the /metrics listener (200, 404,
400, HTTP/1.0 and 1.1) scraped by a real Prometheus server started here on
loopback, and hostile control clients (silent, 1 MB, 100 at once, a
non-root peer) that never delay or lose datagrams."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from dgtest import ROOT, Dgramd, check, eq, main, udp_client

DGRAMCTL = os.environ.get("DGRAMCTL", os.path.join(ROOT, "dgramctl"))


def tmpdir():
    return tempfile.mkdtemp(prefix="dgramd-test-")


def conf(t, extra="", socks=None):
    socks = socks or [
        '{ name = "in"; type = "udp4"; address = "127.0.0.1"; port = 0; handlers = ( '
        '{ type = "log"; file = "%s/in.log"; format = "raw"; }, '
        '{ type = "forward"; to = [ "127.0.0.1:9" ]; } ); }' % t,
        '{ name = "echo"; type = "udp4"; address = "127.0.0.1"; port = 0; '
        'handlers = ( { type = "echo"; } ); }']
    return ('control_socket = "%s/control";\nmetrics_listen = "127.0.0.1:0";\n%s\n'
            'sockets = (\n  %s\n);\n' % (t, extra, ",\n  ".join(socks)))


def ctl(t, *args, user=None):
    cmd = [DGRAMCTL, "-s", t + "/control"] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def metrics_addr(d):
    _, m = d.wait_line(r"metrics at http://([0-9.]+):(\d+)/metrics")
    return m.group(1), int(m.group(2))


def http(addr, request, timeout=5.0):
    """Sends a raw request, returns the whole answer (bytes)."""
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(request)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out


def send_n(d, name, n, payload=b"x"):
    c = udp_client()
    for i in range(n):
        c.sendto(payload + b" %d" % i, d.udp(name))
    return c


def test_status_stats_text_and_json():
    t = tmpdir()
    with Dgramd(conf(t), tmpdir=t) as d:
        send_n(d, "in", 7)
        d.wait_stat("in", "received", 7)
        rc, out, err = ctl(t, "status")
        eq(rc, 0, err)
        check(re.search(r"^version \S+$", out, re.M), out)
        check("pid %d\n" % d.pid in out, out)
        check("config %s\n" % d.conf_path in out, out)
        check("sockets 2\n" in out, out)
        check("last reload never" in out, out)
        rc, out, err = ctl(t, "stats")
        eq(rc, 0, err)
        lines = out.splitlines()
        eq(len(lines), 2, out)
        check(re.match(r"^stats in received=7 bytes=\d+ ", lines[0]), lines[0])
        check("log.written=7" in lines[0] and "fwd.127.0.0.1:9.sent=7" in lines[0], lines[0])
        # The same counters as the SIGUSR2 line.
        st = d.stats("in")
        got = {k: int(v) for k, v in re.findall(r"(\S+?)=(\d+)", lines[0])}
        eq(got["received"], st["received"])
        rc, out, err = ctl(t, "stats", "--json")
        eq(rc, 0, err)
        j = json.loads(out)
        eq(j["pid"], d.pid)
        socks = {s["name"]: s for s in j["sockets"]}
        eq(socks["in"]["counters"]["received"], 7)
        hs = {h["type"]: h for h in socks["in"]["handlers"]}
        eq(hs["log"]["counters"]["written"], 7)
        eq(hs["forward"]["targets"][0]["target"], "127.0.0.1:9")
        eq(hs["forward"]["targets"][0]["counters"]["sent"], 7)
        if shutil.which("jq"):
            p = subprocess.run(["jq", "-r", '.sockets[] | select(.name=="in") | .counters.received'],
                               input=out, capture_output=True, text=True)
            eq((p.returncode, p.stdout.strip()), (0, "7"), p.stderr)
        rc, out, err = ctl(t, "sockets")
        eq(rc, 0, err)
        check(re.search(r"^in\s+udp4\s+127\.0\.0\.1:\d+\s+log,forward\s+7\s", out, re.M), out)
        rc, out, err = ctl(t, "targets")
        eq(rc, 0, err)
        check(re.search(r"^in\s+127\.0\.0\.1:9\s+up\s+7\s", out, re.M), out)
        eq(d.stop(), 0)


def test_prometheus_text_and_http_listener():
    t = tmpdir()
    with Dgramd(conf(t), tmpdir=t) as d:
        addr = metrics_addr(d)
        send_n(d, "in", 5)
        d.wait_stat("in", "received", 5)
        rc, text, err = ctl(t, "stats", "--prometheus")
        eq(rc, 0, err)
        for want in ('dgramd_socket_received_datagrams_total{socket="in"} 5',
                     'dgramd_forward_sent_datagrams_total{socket="in",handler="forward",'
                     'target="127.0.0.1:9"} 5',
                     'dgramd_socket_dropped_datagrams_total{socket="in",reason="truncated"} 0',
                     'dgramd_config_last_reload_successful 1'):
            check(want in text, "%s not in:\n%s" % (want, text))
        check(re.search(r'^dgramd_log_lines_written_total\{socket="in",handler="log",'
                        r'file="[^"]+/in.log"\} 5$', text, re.M), text)
        check(re.search(r'^dgramd_build_info\{version="[^"]+"\} 1$', text, re.M), text)
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True)
            eq(p.returncode, 0, p.stdout + p.stderr)
        else:
            print("skip: promtool missing")
        # HTTP/1.1 and 1.0, then a wrong path, a wrong method and garbage.
        for ver in (b"1.1", b"1.0"):
            a = http(addr, b"GET /metrics HTTP/" + ver + b"\r\nHost: x\r\n\r\n")
            head, _, body = a.partition(b"\r\n\r\n")
            check(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
            check(b"Content-Type: text/plain; version=0.0.4" in head, head)
            check(b"Connection: close" in head, head)
            m = re.search(rb"Content-Length: (\d+)", head)
            eq(int(m.group(1)), len(body))
            check(b'dgramd_socket_received_datagrams_total{socket="in"} 5\n' in body, body)
        check(http(addr, b"GET /other HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404 "))
        check(http(addr, b"POST /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405 "))
        check(http(addr, b"\x16\x03\x01 hello\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        check(http(addr, b"BREW\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        eq(d.stop(), 0)


def test_reload_good_and_broken():
    t = tmpdir()
    with Dgramd(conf(t), tmpdir=t) as d:
        # A good file with one more socket: answered as soon as reload returns.
        extra = ('{ name = "new"; type = "unix_dgram"; path = "%s/new.sock"; '
                 'handlers = ( { type = "echo"; } ); }' % t)
        socks = [
            '{ name = "in"; type = "udp4"; address = "127.0.0.1"; port = 0; handlers = ( '
            '{ type = "log"; file = "%s/in.log"; format = "raw"; } ); }' % t,
            '{ name = "echo"; type = "udp4"; address = "127.0.0.1"; port = 0; '
            'handlers = ( { type = "echo"; } ); }', extra]
        d.write_conf(conf(t, socks=socks))
        rc, out, err = ctl(t, "reload")
        eq(rc, 0, err)
        eq(out, "reloaded %s (3 sockets)\n" % d.conf_path)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        c.bind(t + "/client.sock")
        c.settimeout(5)
        c.sendto(b"after reload", t + "/new.sock")
        eq(c.recv(100), b"after reload")
        # A broken file: exit 1 with file:line: setting: message; the old config serves.
        socks[1] = socks[1].replace("port = 0;", "port = 70000;")
        d.write_conf(conf(t, socks=socks))
        rc, out, err = ctl(t, "reload")
        eq(rc, 1, out + err)
        check(re.search(r"^dgramctl: %s:\d+: sockets\.\[1\]\.port: " % re.escape(d.conf_path),
                        err), err)
        u = udp_client()
        u.sendto(b"still", d.udp("echo"))
        eq(u.recvfrom(100)[0], b"still")
        rc, out, _ = ctl(t, "status")
        check(re.search(r"last reload \S+ failed: .*sockets\.\[1\]\.port", out), out)
        rc, text, _ = ctl(t, "stats", "--prometheus")
        check("dgramd_config_last_reload_successful 0\n" in text, text)
        eq(d.stop(), 0)


def test_reopen_after_rotation():
    t = tmpdir()
    with Dgramd(conf(t), tmpdir=t) as d:
        send_n(d, "in", 3)
        d.wait_stat("in", "received", 3)
        os.rename(t + "/in.log", t + "/in.log.1")
        rc, out, err = ctl(t, "reopen")
        eq((rc, out), (0, "reopened the log files\n"), err)
        send_n(d, "in", 2, b"new")
        d.wait_stat("in", "received", 5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not os.path.exists(t + "/in.log") or
                                               open(t + "/in.log", "rb").read().count(b"\n") < 2):
            time.sleep(0.02)
        eq(open(t + "/in.log", "rb").read().count(b"\n"), 2)
        eq(open(t + "/in.log.1", "rb").read().count(b"\n"), 3)
        eq(d.stop(), 0)


def test_usage_and_unreachable():
    t = tmpdir()
    p = subprocess.run([DGRAMCTL], capture_output=True, text=True)
    eq(p.returncode, 64)
    p = subprocess.run([DGRAMCTL, "frobnicate"], capture_output=True, text=True)
    eq(p.returncode, 64)
    rc, _, err = ctl(t, "status")
    eq(rc, 69)
    check("cannot reach dgramd at %s/control" % t in err, err)
    with Dgramd(conf(t), tmpdir=t) as d:
        rc, _, err = ctl(t, "sessions", "nosuch")
        eq(rc, 1, err)
        check("no socket named" in err, err)
        eq(d.stop(), 0)
    check(not os.path.exists(t + "/control"), "control socket removed at stop")


class Load:
    """Echo ping-pong at a moderate pace in a thread: every reply must come."""

    def __init__(self, addr, n=3000):
        self.addr, self.n, self.got, self.err = addr, n, 0, None
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        try:
            c = udp_client(timeout=5.0)
            for i in range(self.n):
                m = b"p %d" % i
                c.sendto(m, self.addr)
                if c.recvfrom(100)[0] != m:
                    raise AssertionError("wrong reply")
                self.got += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.err = e

    def join(self):
        self.th.join(60)
        return self.got, self.err


def test_hostile_control_clients_never_delay_datagrams():
    t = tmpdir()
    with Dgramd(conf(t), tmpdir=t) as d:
        addr = metrics_addr(d)
        load = Load(d.udp("echo"))
        path = t + "/control"
        # One that connects and says nothing, one that sends 1 MB, 100 at once.
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(path)
        big = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        big.connect(path)
        big.settimeout(5)
        try:
            big.sendall(b"x" * (1 << 20))
        except OSError:
            pass
        answer = b""
        try:
            while True:
                b = big.recv(4096)
                if not b:
                    break
                answer += b
        except OSError:
            pass
        check(answer in (b"", b"error: request too large\n"), answer)
        many = []
        for _ in range(100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.settimeout(5)
            many.append(s)
        for s in many:
            try:
                s.sendall(b"status\n")
            except OSError:
                pass    # turned away ("busy") and closed already
        answers = []
        for s in many:
            out = b""
            try:
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    out += b
            except OSError:
                pass
            answers.append(out)
            s.close()
        served = sum(a.startswith(b"ok\n") for a in answers)
        busy = sum(a.startswith(b"error: busy") for a in answers)
        check(served >= 1, answers[:3])
        eq(served + busy, 100, [a[:40] for a in answers if not a.startswith((b"ok", b"error: busy"))])
        # The same against /metrics: garbage, a huge header, many at once.
        hs = []
        for _ in range(40):
            s = socket.create_connection(addr, timeout=5)
            hs.append(s)
        for s in hs:
            s.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X: " + b"y" * 5000 + b"\r\n\r\n")
        for s in hs:
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
            s.close()
        # The silent client is dropped after its idle limit, by the server.
        silent.settimeout(10)
        eq(silent.recv(100), b"")
        got, err = load.join()
        check(err is None, repr(err))
        eq(got, 3000)
        st = d.stats("echo")
        eq((st["received"], st["sent"], st["kernel_drops"]), (3000, 3000, 0))
        rc, out, err = ctl(t, "status")
        eq(rc, 0, err)
        eq(d.stop(), 0)


def test_non_root_peer_refused():
    if os.getuid() != 0 or not shutil.which("setpriv"):
        print("skip: needs root and setpriv")
        return "skip"
    t = tmpdir()
    os.chmod(t, 0o755)
    with Dgramd(conf(t), tmpdir=t) as d:
        rc, _, err = ctl(t, "status", user=65534)
        eq(rc, 69, err)
        check("Permission denied" in err, err)
        eq(d.stop(), 0)
    # control_mode opens it to everyone: then anyone may ask.
    t = tmpdir()
    os.chmod(t, 0o755)
    with Dgramd(conf(t, 'control_mode = "0666";'), tmpdir=t) as d:
        rc, out, err = ctl(t, "status", user=65534)
        eq(rc, 0, err)
        check("sockets 2" in out, out)
        eq(d.stop(), 0)


def test_real_prometheus_scrapes_the_counts():
    if not shutil.which("prometheus"):
        print("skip: prometheus is not installed (make deps)")
        return "skip"
    t = tmpdir()
    with Dgramd(conf(t), tmpdir=t) as d:
        host, port = metrics_addr(d)
        send_n(d, "in", 42)
        d.wait_stat("in", "received", 42)
        ps = socket.socket()
        ps.bind(("127.0.0.1", 0))
        pport = ps.getsockname()[1]
        ps.close()
        with open(t + "/prometheus.yml", "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: dgramd\n    static_configs:\n"
                    "      - targets: ['%s:%d']\n" % (host, port))
        p = subprocess.Popen(["prometheus", "--config.file=" + t + "/prometheus.yml",
                              "--storage.tsdb.path=" + t + "/data",
                              "--web.listen-address=127.0.0.1:%d" % pport],
                             stdout=subprocess.DEVNULL, stderr=open(t + "/prom.err", "w"))
        try:
            url = ("http://127.0.0.1:%d/api/v1/query?query="
                   "dgramd_socket_received_datagrams_total%%7Bsocket%%3D%%22in%%22%%7D" % pport)
            value = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and value is None:
                try:
                    r = json.loads(urllib.request.urlopen(url, timeout=2).read())
                    if r["status"] == "success" and r["data"]["result"]:
                        value = r["data"]["result"][0]["value"][1]
                except OSError:
                    pass
                if value is None:
                    time.sleep(0.2)
            check(value is not None, "prometheus never scraped dgramd: " +
                  open(t + "/prom.err").read()[-2000:])
            eq(value, "42")
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        eq(d.stop(), 0)


def test_top_in_tmux_shows_rates():
    if not shutil.which("tmux"):
        print("skip: tmux is not installed (make deps)")
        return "skip"
    t = tmpdir()
    with Dgramd(conf(t), tmpdir=t) as d:
        sess = "dgramd-top-%d" % os.getpid()
        env = dict(os.environ, TMUX_TMPDIR=t)
        subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", "140", "-y", "30",
                        "%s -s %s/control top" % (DGRAMCTL, t)], check=True, env=env)
        try:
            stop = time.monotonic() + 30
            screen = ""
            c = udp_client()
            i = 0
            # Traffic until top shows a non-zero receive rate for "in".
            while time.monotonic() < stop:
                for _ in range(50):
                    c.sendto(b"top %d" % i, d.udp("in"))
                    i += 1
                screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess],
                                        capture_output=True, text=True, env=env).stdout
                m = re.search(r"^in\s+(\d+)\s+(\d+)", screen, re.M)
                if m and int(m.group(1)) > 0:
                    break
                time.sleep(0.1)
            check("dgramd top" in screen and re.search(r"^in\s+[1-9]\d*\s+[1-9]", screen, re.M),
                  screen)
            check(re.search(r"^\s+in -> 127\.0\.0\.1:9\s+[1-9]", screen, re.M), screen)
            subprocess.run(["tmux", "send-keys", "-t", sess, "q"], env=env)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if subprocess.run(["tmux", "has-session", "-t", sess], env=env,
                                  capture_output=True).returncode != 0:
                    break
                time.sleep(0.05)
            check(subprocess.run(["tmux", "has-session", "-t", sess], env=env,
                                 capture_output=True).returncode != 0, "top quits on q")
        finally:
            subprocess.run(["tmux", "kill-session", "-t", sess], env=env, capture_output=True)
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
