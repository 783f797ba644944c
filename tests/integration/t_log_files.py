"""The log handler's files: rotation by rename + SIGUSR1, by rename alone
and by unlink alone (noticed by inode), no line lost or duplicated across
the switch; /dev/full counted as write errors and reported while the
daemon goes on serving and the other handlers keep writing; several
handlers and sockets writing one file without breaking or interleaving
lines; new files created with file_mode (default 0640) whatever the
umask; a line written before the reactor sleeps (no data held while idle);
config errors (missing directory, a directory as the file, bad values,
unknown keys) exiting 78 with FILE:LINE: setting, for -t as well, with
nothing created; and reload keeping the open file."""
import os
import re
import signal
import stat
import time

from dgtest import Dgramd, check, eq, main, run_dgramd, udp_client, unix_client
from logtest import conf, log, read_lines, tmpdir, udp_sock, unix_sock, wait_lines


def start(tmp, handlers, **kw):
    return Dgramd(conf(udp_sock(handlers=handlers)), tmpdir=tmp, **kw)


def send_seq(c, addr, lo, hi, tag=b"seq"):
    for i in range(lo, hi):
        c.sendto(b"<13>t: %s %d" % (tag, i), addr)


def seqs(lines):
    return [int(l.rsplit(b" ", 1)[1]) for l in lines]


def test_rotate_rename_then_sigusr1():
    tmp = tmpdir()
    out = tmp + "/a.log"
    d = start(tmp, log(out, "raw"))
    with d:
        c = udp_client()
        send_seq(c, d.udp("in"), 0, 50)
        eq(len(wait_lines(out, 50)), 50)
        os.rename(out, out + ".1")
        start_i = len(d.lines)
        d.send_signal(signal.SIGUSR1)
        d.wait_line("reopening log files", start_i)
        send_seq(c, d.udp("in"), 50, 80)
        eq(seqs(wait_lines(out, 30)), list(range(50, 80)))
        eq(seqs(read_lines(out + ".1")), list(range(0, 50)))
        eq(d.stats("in")["log.written"], 80)
        eq(d.stop(), 0)


def rotate_behind_back(remove):
    tmp = tmpdir()
    out = tmp + "/b.log"
    d = start(tmp, log(out, "raw"))
    with d:
        c = udp_client()
        send_seq(c, d.udp("in"), 0, 10)
        eq(len(wait_lines(out, 10)), 10)
        if remove:
            os.unlink(out)
        else:
            os.rename(out, out + ".1")
        # Noticed at most a second later, on the next datagram: keep sending.
        i = 10
        deadline = time.monotonic() + 5
        while not read_lines(out) and time.monotonic() < deadline:
            send_seq(c, d.udp("in"), i, i + 1)
            i += 1
            time.sleep(0.05)
        new = wait_lines(out, 1)
        check(new, "the file was recreated")
        st = d.wait_stat("in", "log.written", i)
        eq(st["log.written"], i)
        new = read_lines(out)
        old = [] if remove else read_lines(out + ".1")
        if not remove:
            eq(seqs(old) + seqs(new), list(range(i)), "every line once, in order")
        else:
            check(seqs(new) == list(range(i - len(new), i)), "the newest lines, in order")
        eq(stat.S_IMODE(os.stat(out).st_mode), 0o640)
        eq(d.stop(), 0)


def test_rotate_rename_alone_noticed_by_inode():
    rotate_behind_back(False)


def test_rotate_unlink_alone_noticed_by_inode():
    rotate_behind_back(True)


def test_dev_full_counted_daemon_goes_on():
    tmp = tmpdir()
    ok = tmp + "/ok.log"
    d = Dgramd(conf(udp_sock(handlers=log("/dev/full", "raw") + ", " + log(ok, "json") +
                             ', { type = "echo"; }')), tmpdir=tmp)
    with d:
        c = udp_client()
        n = 300
        for i in range(n):
            msg = b"<13>t: fill %d " % i + b"x" * 1000
            c.sendto(msg, d.udp("in"))
            eq(c.recvfrom(70000)[0], msg)       # paced by the echo's answer
        d.wait_line(r"log /dev/full: write failed: No space left on device")
        # The daemon still serves: echo answers and the other file gets every line.
        c.sendto(b"still there?", d.udp("in"))
        eq(c.recvfrom(70000)[0], b"still there?")
        eq(len(wait_lines(ok, n + 1)), n + 1)
        st = d.stats("in")
        eq(st["log.0.written"], 0)
        check(st["log.0.write_errors"] >= 1, st)
        eq(st["log.1.written"], n + 1)
        eq(st["log.1.write_errors"], 0)
        # 300 lines of ~1 KiB fit the retry buffer: none dropped yet.
        eq(st["log.0.dropped"], 0)
        warnings = [l for l in d.lines if "write failed" in l]
        check(len(warnings) <= 6, "write errors are logged at a limited rate")
        eq(d.stop(), 0)


def test_dev_full_drops_when_buffer_full():
    tmp = tmpdir()
    d = start(tmp, log("/dev/full", "raw"))
    with d:
        c = udp_client()
        big = b"y" * 60000
        total = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for _ in range(2):
                c.sendto(big, d.udp("in"))
            total += 2
            st = d.wait_stat("in", "received", total)
            if st.get("log.dropped", 0) > 0:
                break
        st = d.stats("in")
        check(st["log.dropped"] > 0, st)
        eq(st["log.written"], 0)
        eq(d.stop(), 0)


def test_shared_file_lines_never_break_or_interleave():
    tmp = tmpdir()
    out = tmp + "/shared.log"
    d = Dgramd(conf(udp_sock("u1", log(out, "raw") + ", " + log(out, "raw")),
                    udp_sock("u2", log(out, "raw")),
                    unix_sock(tmp + "/log", "x", log(out, "raw"))), tmpdir=tmp)
    with d:
        c = udp_client()
        cu = unix_client()
        n = 400
        want = set()
        for i in range(n):
            # Sizes from 1 byte to ~20 KiB so lines cross write boundaries.
            body = b"%d:" % i + bytes([65 + i % 26]) * ((i * 997) % 20000)
            want.add(body)
            c.sendto(body, d.udp("u1"))
            c.sendto(body, d.udp("u2"))
            cu.sendto(body, tmp + "/log")
            if i % 8 == 7:
                for s in ("u1", "u2", "x"):
                    eq(d.wait_stat(s, "received", i + 1)["kernel_drops"], 0)
        lines = wait_lines(out, 4 * n)
        eq(len(lines), 4 * n)
        counts = {}
        for l in lines:
            m = re.fullmatch(rb"\S+ \S+ (\d+:([A-Z])\2*)", l) or \
                re.fullmatch(rb"\S+ \S+ (\d+:)", l)
            check(m, "a broken or interleaved line: %r" % l[:120])
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        eq(set(counts), want)
        check(all(v == 4 for v in counts.values()), "each datagram once per handler")
        eq(d.stop(), 0)


def test_file_mode_default_and_set_whatever_umask():
    tmp = tmpdir()
    a, b = tmp + "/default.log", tmp + "/set.log"
    old = os.umask(0o077)
    try:
        d = start(tmp, log(a) + ", " + log(b, "syslog", 'file_mode = "0604";'))
    finally:
        os.umask(old)
    with d:
        eq(stat.S_IMODE(os.stat(a).st_mode), 0o640)
        eq(stat.S_IMODE(os.stat(b).st_mode), 0o604)
        eq(d.stop(), 0)
    # An existing file keeps its mode.
    os.chmod(a, 0o600)
    d = start(tmp, log(a))
    with d:
        eq(stat.S_IMODE(os.stat(a).st_mode), 0o600)
        eq(d.stop(), 0)


def test_one_datagram_written_while_idle():
    tmp = tmpdir()
    out = tmp + "/idle.log"
    d = start(tmp, log(out))
    with d:
        c = udp_client()
        c.sendto(b"<13>t: alone", d.udp("in"))
        lines = wait_lines(out, 1, timeout=3)
        eq(len(lines), 1, "flushed before the reactor sleeps")
        check(lines[0].endswith(b" 127.0.0.1 t: alone"), lines[0])
        eq(d.stop(), 0)


def conf_error(text, want, tmp):
    path = tmp + "/bad.conf"
    with open(path, "w") as f:
        f.write(text)
    for args in (["-t", "-c", path], ["-c", path]):
        rc, out, err = run_dgramd(args)
        eq(rc, 78, "exit code of %s: %s" % (args, err))
        check(re.search(want, err), "want %r in %r" % (want, err))


def test_config_errors_exit_78_with_location():
    tmp = tmpdir()
    sock = '{ name = "in"; type = "udp4"; port = 0;\n  handlers = ( %s ); }'

    def c(h):
        return "sockets = (\n  %s\n);\n" % (sock % h)
    base = r"bad\.conf:3: sockets\.\[0\]\.handlers\.\[0\]"
    conf_error(c('{ type = "log"; file = "%s/nodir/x.log"; }' % tmp),
               base + r"\.file: directory does not exist: No such file", tmp)
    check(not os.path.exists(tmp + "/nodir"), "nothing created")
    conf_error(c('{ type = "log"; file = "%s"; }' % tmp), base + r"\.file: is a directory", tmp)
    conf_error(c('{ type = "log"; }'), base + r"\.file: missing", tmp)
    conf_error(c('{ type = "log"; file = "%s/x.log"; format = "xml"; }' % tmp),
               base + r"\.format: must be raw \| syslog \| json, got \"xml\"", tmp)
    conf_error(c('{ type = "log"; file = "%s/x.log"; min_severity = "loud"; }' % tmp),
               base + r"\.min_severity: must be emerg", tmp)
    conf_error(c('{ type = "log"; file = "%s/x.log"; facilities = [ "auth", "mail2" ]; }'
                 % tmp), base + r"\.facilities\.\[1\]: must be kern", tmp)
    conf_error(c('{ type = "log"; file = "%s/x.log"; file_mode = "0999"; }' % tmp),
               base + r"\.file_mode: must be an octal mode", tmp)
    conf_error(c('{ type = "log"; file = "%s/x.log"; color = true; }' % tmp),
               base + r"\.color", tmp)
    check(not os.path.exists(tmp + "/x.log"), "nothing created")
    with open(tmp + "/ok.conf", "w") as f:
        f.write(c('{ type = "log"; file = "%s/x.log"; min_severity = "warn"; '
                  'facilities = [ "local7" ]; format = "json"; file_mode = "0600"; }' % tmp))
    rc, out, err = run_dgramd(["-t", "-c", tmp + "/ok.conf"])
    eq(rc, 0, err)
    check(not os.path.exists(tmp + "/x.log"), "-t creates nothing")


def test_reload_keeps_file_and_counters():
    tmp = tmpdir()
    out = tmp + "/r.log"
    d = start(tmp, log(out, "raw"))
    with d:
        c = udp_client()
        send_seq(c, d.udp("in"), 0, 5)
        eq(len(wait_lines(out, 5)), 5)
        d.write_conf(conf(udp_sock(handlers=log(out, "json"))))
        start_i = len(d.lines)
        d.send_signal(signal.SIGHUP)
        d.wait_line(r"reloaded ", start_i)
        send_seq(c, d.udp("in"), 5, 8)
        lines = wait_lines(out, 8)
        eq(len(lines), 8)
        check(all(l.startswith(b"{") for l in lines[5:]), lines[5:])
        eq(d.stats("in")["log.written"], 8)
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
