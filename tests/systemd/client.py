#!/usr/bin/python3
"""The client side of the check-systemd scenarios, run inside the container
(python3 of the container's Debian). Every address is loopback or a unix
socket path; every load is bounded in count and time.

  client.py echo PORT                     one datagram to 127.0.0.1:PORT, its echo back
  client.py stream PORT N MARK K          N numbered datagrams (1 ms apart) to an echo
                                          socket, MARK created after K sent; every
                                          echo must come back
  client.py loglines PATH TAG N MARK K RESUME L
                                          N lines "TAG: seq NNNNNN" to the unix socket
                                          PATH (blocking, so none is dropped here); MARK
                                          created after K sent; the last L wait for RESUME
  client.py countlog TAG N FILE...        each of seq 0..N-1 exactly once in FILEs
  client.py send PORT TEXT                one datagram to 127.0.0.1:PORT
"""
import gzip
import os
import re
import socket
import sys
import threading
import time


def fail(msg):
    print(msg)
    sys.exit(1)


def echo(port):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(5)
    payload = b"ping-%d" % os.getpid()
    c.connect(("127.0.0.1", port))
    c.send(payload)
    try:
        data = c.recv(100)
    except OSError as e:
        fail("no echo from 127.0.0.1:%d: %s" % (port, e))
    if data != payload:
        fail("echo from 127.0.0.1:%d: %r, sent %r" % (port, data, payload))
    print("echo from 127.0.0.1:%d" % port)


def touch(path):
    with open(path, "w"):
        pass


def stream(port, count, mark, after):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    c.settimeout(0.2)
    addr = ("127.0.0.1", port)
    got = set()
    state = {"sent": 0, "done": False}

    def receiver():
        idle_until = None
        while True:
            try:
                data, _ = c.recvfrom(100)
                got.add(int(data))
            except socket.timeout:
                pass
            except OSError:
                pass   # ICMP unreachable would show here; counted as missing
            if state["done"]:
                if len(got) >= count:
                    return
                if idle_until is None:
                    idle_until = time.monotonic() + 10
                elif time.monotonic() > idle_until:
                    return

    rt = threading.Thread(target=receiver, daemon=True)
    rt.start()
    deadline = time.monotonic() + 60
    for k in range(count):
        c.sendto(b"%d" % k, addr)
        state["sent"] = k + 1
        if k + 1 == after:
            touch(mark)
        time.sleep(0.001)
        if time.monotonic() > deadline:
            break
    state["done"] = True
    rt.join(20)
    sent = state["sent"]
    missing = sorted(set(range(sent)) - got)
    print("sent %d, echoed %d, missing %d %s" % (sent, len(got), len(missing), missing[:10]))
    if sent != count or missing:
        sys.exit(1)


def loglines(path, tag, count, mark, after, resume, tail):
    """After `after` lines, creates mark; the last `tail` lines wait until
    the file resume exists (at most 60 s), so they go out after whatever
    the caller did meanwhile."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.settimeout(30)
    c.connect(path)
    waited = 0.0
    for k in range(count):
        if k == count - tail:
            t0 = time.monotonic()
            while not os.path.exists(resume) and time.monotonic() < t0 + 60:
                time.sleep(0.01)
            waited = time.monotonic() - t0
        c.send(b"<13>%s: seq %06d" % (tag.encode(), k))
        if k + 1 == after:
            touch(mark)
    print("sent %d lines to %s (waited %.1f s for %s before the last %d)"
          % (count, path, waited, resume, tail))


def countlog(tag, count, files):
    seen = {}
    pat = re.compile(r"%s(?:\[\d+\])?: seq (\d{6})" % re.escape(tag))
    per_file = []
    for f in files:
        opener = gzip.open if f.endswith(".gz") else open
        with opener(f, "rt", errors="replace") as fh:
            n = 0
            for line in fh:
                m = pat.search(line)
                if m:
                    k = int(m.group(1))
                    seen[k] = seen.get(k, 0) + 1
                    n += 1
        per_file.append("%s: %d" % (f, n))
    missing = [k for k in range(count) if k not in seen]
    twice = [k for k, v in seen.items() if v > 1]
    print("; ".join(per_file))
    print("%d lines of %d found, %d missing %s, %d more than once %s"
          % (len(seen), count, len(missing), missing[:10], len(twice), twice[:10]))
    if missing or twice:
        sys.exit(1)


def send(port, text):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.sendto(text.encode(), ("127.0.0.1", port))


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "echo":
        echo(int(a[0]))
    elif cmd == "stream":
        stream(int(a[0]), int(a[1]), a[2], int(a[3]))
    elif cmd == "loglines":
        loglines(a[0], a[1], int(a[2]), a[3], int(a[4]), a[5], int(a[6]))
    elif cmd == "countlog":
        countlog(a[0], int(a[1]), a[2:])
    elif cmd == "send":
        send(int(a[0]), a[1])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
