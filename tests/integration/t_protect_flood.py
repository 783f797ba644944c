"""A flood from many distinct loopback sources (16384 addresses in
127.2.0.0/18, 10 datagrams each, far more senders than the per-sender
table holds) against an echo socket with per-source rate limits: the
table stays at its fixed capacity, the daemon's RSS (VmRSS from
/proc/PID/status) does not grow with the number of senders, every
datagram is accounted for (received = echoed + limited), and a
well-behaved sender on 127.0.0.1 keeps getting every answer throughout.
Prints "# figure:" lines with the measured numbers for the README."""
import socket
import time

from dgtest import Dgramd, check, eq, main, udp_client

SOURCES = 16384
PER_SOURCE = 10
CAPACITY = 1024


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def flood(addr, first, last, good, good_addr, state):
    """Floods from sources first..last-1; the good sender asks now and then."""
    for i in range(first, last):
        ip = "127.2.%d.%d" % (i // 256, i % 256)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, 0))
        for _ in range(PER_SOURCE):
            s.sendto(b"flood", addr)
        s.close()
        state["sent"] += PER_SOURCE
        if i % 1024 == 0:
            # Well-behaved: at most 10 a second, well under its limit.
            wait = state["last_good"] + 0.1 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            state["last_good"] = time.monotonic()
            state["asked"] += 1
            good.sendto(b"good %d" % i, good_addr)
            try:
                data, _ = good.recvfrom(100)
                if data == b"good %d" % i:
                    state["answered"] += 1
            except socket.timeout:
                pass


def arrived(d, n, timeout=10.0):
    """Polls stats until n datagrams were received or dropped by the kernel."""
    deadline = time.monotonic() + timeout
    while True:
        st = d.stats("echo")
        if st["received"] + st["kernel_drops"] >= n or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def test_many_source_flood_bounded():
    d = Dgramd("""
sockets = ( { name = "echo"; type = "udp4"; address = "127.0.0.1"; port = 0;
  recv_buffer = 4194304;
  rate_limit = { rate = 20; burst = 5; per_source = true; sources = %d; };
  handlers = ( { type = "echo"; } ); } );
""" % CAPACITY)
    with d:
        addr = d.udp("echo")
        good = udp_client(bind=("127.0.0.1", 0), timeout=2.0)
        state = {"sent": 0, "asked": 0, "answered": 0, "last_good": 0.0}
        rss_start = rss_kib(d.pid)
        # Warm up: fill the table once, so what follows can only recycle.
        flood(addr, 0, 2 * CAPACITY, good, addr, state)
        arrived(d, state["sent"] + state["asked"])
        rss_warm = rss_kib(d.pid)
        t0 = time.monotonic()
        flood(addr, 2 * CAPACITY, SOURCES, good, addr, state)
        secs = time.monotonic() - t0
        st = arrived(d, state["sent"] + state["asked"])
        rss_end = rss_kib(d.pid)
        total = state["sent"] + state["asked"]
        print("# figure: %d sources x %d datagrams (%d in %.1fs), table capacity %d: "
              "VmRSS %d KiB at start, %d KiB after %d sources, %d KiB after %d sources; "
              "received=%d limited=%d echoed=%d kernel_drops=%d; well-behaved sender "
              "answered %d/%d" % (SOURCES, PER_SOURCE, total, secs, CAPACITY, rss_start,
                                  rss_warm, 2 * CAPACITY, rss_end, SOURCES, st["received"],
                                  st["limited"], st["sent"], st["kernel_drops"],
                                  state["answered"], state["asked"]))
        eq(st["received"] + st["kernel_drops"], total, "every datagram arrived or was counted")
        eq(st["received"], st["sent"] + st["limited"] + st["echo.ignored"],
           "each datagram echoed or limited")
        check(st["limited"] >= st["received"] // 3,
              "the flood is limited (%d)" % st["limited"])
        eq(st["rate_limit.capacity"], CAPACITY)
        eq(st["rate_limit.senders"], CAPACITY, "the table is full and no larger")
        check(rss_end - rss_warm < 1024,
              "RSS grew by %d KiB with many more senders" % (rss_end - rss_warm))
        check(state["asked"] >= 5, "the good sender asked %d times" % state["asked"])
        eq(state["answered"], state["asked"], "the well-behaved sender was always answered")
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
