"""The forward handler sends runs of equal-size datagrams for one UDP
target with UDP GSO (UDP_SEGMENT). Whatever the mix of sizes in a receive
batch (runs longer than the 64-segment limit, runs past 64 KiB, a shorter
datagram ending a run, empty datagrams, singles), the target must receive
each datagram once, whole, with its own boundaries, in order, and the
counters must say so. dgramd is stopped (SIGSTOP) while a burst is queued
in its receive buffer, so that each recvmmsg batch really holds such runs."""
import signal
import socket

from dgtest import Dgramd, eq, main

RCVBUF = 8 << 20


def conf(target):
    return """
sockets = (
  { name = "in"; type = "udp4"; address = "127.0.0.1"; port = 0;
    recv_buffer = %d;
    handlers = ( { type = "forward"; to = [ "%s" ]; } ); }
);
""" % (RCVBUF, target)


def payload(seq, size):
    """A datagram of exactly size bytes that names its sequence number."""
    head = b"%d:" % seq
    if size < len(head):
        return bytes(size)
    body = (b"%d-" % seq) * (size // 2 + 1)
    return head + body[:size - len(head)]


def sizes():
    """Runs of equal sizes, shorter ends, empties, singles, big runs."""
    out = []
    out += [100] * 10 + [50]            # a run ended by a shorter one
    out += [100] * 5 + [200]            # a longer one starts a new run
    out += [0, 0, 7]                    # empty datagrams are never segmented
    out += [1000] * 70                  # longer than 64 segments
    out += [1472] * 50                  # more than 64 KiB in one run
    out += [1, 2, 3, 4, 5]              # all different
    out += [64] * 130 + [63, 64]        # a shorter one, then a new run
    out += [9000] * 8                   # large segments
    return out


def run_burst(d, src, sink, dst, base):
    """Queues one burst while dgramd is stopped; returns what was sent."""
    sent = []
    d.send_signal(signal.SIGSTOP)
    try:
        for i, n in enumerate(sizes()):
            p = payload(base + i, n)
            src.sendto(p, dst)
            sent.append(p)
    finally:
        d.send_signal(signal.SIGCONT)
    got = []
    sink.settimeout(5.0)
    while len(got) < len(sent):
        try:
            got.append(sink.recv(70000))
        except socket.timeout:
            break
    return sent, got


def test_gso_runs_keep_boundaries_order_and_counts():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sink.bind(("127.0.0.1", 0))
    target = "127.0.0.1:%d" % sink.getsockname()[1]
    src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    src.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RCVBUF)
    with Dgramd(conf(target)) as d:
        dst = d.udp("in")
        total = 0
        for rep in range(3):
            sent, got = run_burst(d, src, sink, dst, rep * 1000)
            eq(len(got), len(sent), "burst %d: one datagram out per datagram in" % rep)
            eq([len(g) for g in got], [len(s) for s in sent],
               "burst %d: every datagram keeps its own length" % rep)
            eq(got, sent, "burst %d: every datagram whole and in order" % rep)
            total += len(sent)
        st = d.stats("in")
        eq(st["received"], total)
        eq(st["kernel_drops"], 0, "the burst fit in the receive buffer")
        eq(st["sent"], total, "sent counts datagrams, not GSO messages")
        k = "fwd.%s." % target
        eq((st[k + "sent"], st[k + "errors"], st[k + "dropped"]), (total, 0, 0))
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
