"""Echo replies that would block are queued, bounded, and sent when the
peer can take them: a unix client that does not read gets every reply, in
order, once it reads, while another client is answered at once; past the
bound replies are dropped and counted, never lost silently."""
import socket
import tempfile

from dgtest import Dgramd, check, eq, main, unix_client


def start():
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    d = Dgramd("""sockets = ( { name = "e"; type = "unix_dgram"; path = "%s/e.sock";
  handlers = ( { type = "echo"; } ); } );
""" % t, tmpdir=t)
    return d, t


def slow_client(path):
    c = unix_client(path)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return c


def test_slow_client_gets_every_reply_in_order_others_not_delayed():
    d, t = start()
    with d:
        srv = d.path("e")
        slow = slow_client(t + "/slow.sock")
        n = 200
        for i in range(n):
            slow.sendto(b"slow %04d " % i + b"x" * 90, srv)
        st = d.wait_stat("e", "received", n)
        eq(st["received"], n)
        check(st.get("queued", 0) > 0, "replies wait in the queue: %r" % st)
        eq(st["dropped"], 0)
        fast = unix_client(t + "/fast.sock")
        for i in range(50):
            fast.sendto(b"fast %d" % i, srv)
            eq(fast.recvfrom(200)[0], b"fast %d" % i, "the other client is answered at once")
        got = [slow.recvfrom(200)[0] for _ in range(n)]
        eq(got, [b"slow %04d " % i + b"x" * 90 for i in range(n)], "every reply, in order")
        st = d.wait_stat("e", "sent", n + 50)
        eq(st["sent"], n + 50)
        eq(st["queued"], 0)
        eq(st["dropped"], 0)
        eq(d.stop(), 0)


def test_queue_bound_drops_and_counts():
    d, t = start()
    with d:
        srv = d.path("e")
        slow = slow_client(t + "/slow.sock")
        n = 1500
        payload = b"y" * 400
        for i in range(n):
            slow.sendto(payload, srv)
        st = d.wait_stat("e", "received", n)
        eq(st["received"], n)
        check(st["dropped"] > 0, "past the bound replies are dropped: %r" % st)
        delivered = 0
        slow.settimeout(0.5)
        try:
            while True:
                slow.recvfrom(1000)
                delivered += 1
        except socket.timeout:
            pass
        st = d.stats("e")
        eq(st["queued"], 0)
        eq(delivered + st["dropped"], n, "every reply delivered or counted as dropped")
        eq(st["sent"], delivered)
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
