"""Echo replies go out with UDP GSO (UDP_SEGMENT) when a receive batch holds
runs of equal-size datagrams from one sender. Whatever the mix in a batch
(two senders interleaved, runs over 64 segments and over 64 KiB, empty
datagrams, sizes changing, a socket on all addresses answering from the
address asked), each sender must get each of its datagrams back once,
whole, with its own boundaries, in order, and the counters must say so.
dgramd is stopped (SIGSTOP) while a burst is queued in its receive buffer,
so that each recvmmsg batch really holds such runs."""
import signal
import socket

from dgtest import Dgramd, eq, main

RCVBUF = 8 << 20


def conf(address):
    return """
sockets = (
  { name = "echo"; type = "udp4"; address = "%s"; port = 0;
    recv_buffer = %d; send_buffer = %d;
    handlers = ( { type = "echo"; } ); }
);
""" % (address, RCVBUF, RCVBUF)


def payload(who, seq, size):
    head = b"%s%d:" % (who, seq)
    if size < len(head):
        return bytes(size)
    body = (b"%s%d-" % (who, seq)) * (size // 2 + 1)
    return head + body[:size - len(head)]


def sizes():
    out = [100] * 10 + [50] + [100] * 5 + [200]
    out += [0, 0, 7]
    out += [1000] * 70                  # longer than 64 segments
    out += [1472] * 50                  # more than 64 KiB in one run
    out += [1, 2, 3, 4, 5]
    out += [64] * 130 + [63, 64]
    out += [9000] * 8
    return out


def client():
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RCVBUF)
    c.bind(("127.0.0.1", 0))
    return c


def collect(c, n):
    got = []
    c.settimeout(5.0)
    while len(got) < n:
        try:
            d, a = c.recvfrom(70000)
        except socket.timeout:
            break
        got.append((d, a))
    return got


def burst(d, dst, clients):
    """Queues a burst from each client, interleaved in runs, while dgramd is stopped."""
    sent = {c: [] for c in clients}
    sz = sizes()
    d.send_signal(signal.SIGSTOP)
    try:
        for i in range(0, len(sz), 25):
            for k, c in enumerate(clients):
                for j, n in enumerate(sz[i:i + 25]):
                    p = payload(b"abc"[k:k + 1], i + j, n)
                    c.sendto(p, dst)
                    sent[c].append(p)
    finally:
        d.send_signal(signal.SIGCONT)
    return sent


def check_echo(address, send_to):
    clients = [client(), client()]
    with Dgramd(conf(address)) as d:
        dst = ("127.0.0.1", d.port("echo")) if send_to is None else (send_to, d.port("echo"))
        total = 0
        for rep in range(3):
            sent = burst(d, dst, clients)
            for k, c in enumerate(clients):
                got = collect(c, len(sent[c]))
                eq(len(got), len(sent[c]), "rep %d client %d: one reply per datagram" % (rep, k))
                eq([len(g) for g, _ in got], [len(p) for p in sent[c]],
                   "rep %d client %d: each reply keeps its length" % (rep, k))
                eq([g for g, _ in got], sent[c], "rep %d client %d: whole and in order" % (rep, k))
                eq({a for _, a in got}, {dst}, "replies come from the address asked")
                total += len(sent[c])
        st = d.stats("echo")
        eq(st["received"], total)
        eq(st["kernel_drops"], 0, "the bursts fit in the receive buffer")
        eq((st["sent"], st["send_errors"], st["dropped"]), (total, 0, 0),
           "sent counts datagrams, not GSO messages")
        eq(d.stop(), 0)


def test_gso_replies_bound_address():
    check_echo("127.0.0.1", None)


def test_gso_replies_wildcard_socket_answers_from_address_asked():
    check_echo("0.0.0.0", "127.0.0.2")


if __name__ == "__main__":
    main(globals())
