"""Reload under load loses nothing: a steady stream (about 3000 datagrams
per second for about 3 seconds) into a socket whose log handler writes a
file, while ten SIGHUP reloads alternately add and remove another listener
and change the log format: every datagram sent appears in the log exactly
once, and the socket's counters run on across the reloads."""
import os
import re
import signal
import socket
import tempfile
import threading
import time

from dgtest import Dgramd, check, eq, main

FORMATS = ["raw", "json", "syslog"]


def conf(tmp, fmt, extra):
    # A receive buffer that holds the whole stream: a busy machine (a
    # sanitizer build, parallel jobs) may pause dgramd longer than the
    # default buffer lasts, and the test is about reloads, not about that.
    socks = ['{ name = "in"; type = "udp4"; address = "127.0.0.1"; port = 0;\n'
             '    recv_buffer = 16777216;\n'
             '    handlers = ( { type = "log"; file = "%s/out.log"; format = "%s"; } ); }'
             % (tmp, fmt)]
    if extra:
        socks.append('{ name = "extra"; type = "unix_dgram"; path = "%s/extra.sock";\n'
                     '    handlers = ( { type = "echo"; } ); }' % tmp)
    return "sockets = (\n  " + ",\n  ".join(socks) + "\n);\n"


def test_ten_reloads_under_load_lose_nothing():
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    d = Dgramd(conf(t, "raw", False), tmpdir=t)
    with d:
        addr = d.udp("in")
        total = 9000
        rate = 3000.0
        sent = []

        def sender():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            t0 = time.monotonic()
            for i in range(total):
                # Pace to the rate; bounded by count and by time.
                due = t0 + i / rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                if now - t0 > 30:
                    break
                s.sendto(b"<13>reload-test seq=%08d" % i, addr)
                sent.append(i)
            s.close()

        th = threading.Thread(target=sender)
        th.start()
        for k in range(10):
            time.sleep(0.25)
            d.write_conf(conf(t, FORMATS[(k + 1) % 3], k % 2 == 0))
            start = len(d.lines)
            d.send_signal(signal.SIGHUP)
            d.wait_line(r"dgramd: reloaded ", start)
            if k % 2 == 0:
                check(os.path.exists(t + "/extra.sock"), "listener added")
            else:
                check(not os.path.exists(t + "/extra.sock"), "listener removed")
        th.join(60)
        st = d.wait_stat("in", "received", len(sent))
        eq(st["received"], len(sent), "every datagram received")
        eq(st["kernel_drops"], 0, "no kernel drops (the load is modest)")
        eq(d.stop(), 0)
    seen = {}
    for line in open(t + "/out.log", errors="replace"):
        for m in re.findall(r"seq=(\d{8})", line):
            seen[int(m)] = seen.get(int(m), 0) + 1
    missing = [i for i in sent if i not in seen]
    dup = [i for i, n in seen.items() if n != 1]
    eq(missing[:10], [], "datagrams missing from the log (%d in all)" % len(missing))
    eq(dup[:10], [], "datagrams logged more than once")
    eq(len(seen), len(sent))
    fmts = set()
    for line in open(t + "/out.log", errors="replace"):
        fmts.add("json" if line.startswith("{") else
                 "raw" if re.match(r"^\d{4}-\d\d-\d\dT", line) else "syslog")
    eq(fmts, set(FORMATS), "all three formats written across the reloads")


if __name__ == "__main__":
    main(globals())
