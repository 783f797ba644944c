"""The log handler with real syslog clients: util-linux logger over a unix
socket (local form, no host: the line gets this machine's name) and over
UDP with --rfc3164 and --rfc5424; python's logging SysLogHandler over unix
and UDP; glibc syslog(3) through a /dev/log that points at dgramd (in a
private mount namespace); the json pid/uid/gid from SCM_CREDENTIALS
matching the sender, also once a reload makes a kept socket json or adds
allow_uids (credentials are asked for only where read); min_severity and facilities keeping and dropping the
right lines (PRI-less messages count as user.notice); hostile payloads
(newlines, terminal escapes, NULs, invalid UTF-8) giving exactly one line
each, json that parses, and stdout ("-") output."""
import json
import logging
import logging.handlers
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from dgtest import Dgramd, check, eq, main, udp_client, unix_client
from logtest import (conf, log, read_lines, syslog_fields, tmpdir, udp_sock, unix_sock,
                     wait_lines, wait_out)

HOST = socket.gethostname()
TS = r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"


def test_logger_unix_syslog_format_adds_local_host():
    tmp = tmpdir()
    out = tmp + "/messages.log"
    d = Dgramd(conf(unix_sock(tmp + "/log", handlers=log(out))), tmpdir=tmp)
    with d:
        subprocess.run(["logger", "-u", tmp + "/log", "-t", "mytag", "hello unix"], check=True)
        subprocess.run(["logger", "-u", tmp + "/log", "-t", "withpid", "-i", "-p", "auth.crit",
                        "hello pid"], check=True)
        lines = wait_lines(out, 2)
        eq(len(lines), 2)
        check(re.fullmatch((TS + " %s mytag: hello unix") % re.escape(HOST), lines[0].decode()),
              lines[0])
        check(re.fullmatch((TS + r" %s withpid\[\d+\]: hello pid") % re.escape(HOST),
                           lines[1].decode()), lines[1])
        st = d.stats("dev")
        eq(st["log.written"], 2)
        eq(st["log.write_errors"], 0)
        eq(d.stop(), 0)


def test_logger_udp_rfc3164_and_rfc5424_json():
    tmp = tmpdir()
    out = tmp + "/net.json"
    d = Dgramd(conf(udp_sock(handlers=log(out, "json"))), tmpdir=tmp)
    with d:
        port = str(d.port("in"))
        subprocess.run(["logger", "--rfc3164", "-n", "127.0.0.1", "-P", port, "-d",
                        "-t", "t3164", "-p", "local3.warning", "hello 3164"], check=True)
        subprocess.run(["logger", "--rfc5424", "-n", "127.0.0.1", "-P", port, "-d",
                        "-t", "t5424", "-p", "daemon.err", "--msgid", "ID47",
                        "--sd-id", "ex@32473", "--sd-param", 'iut="3"', "hello 5424"],
                       check=True)
        lines = wait_lines(out, 2)
        eq(len(lines), 2)
        a, b = [json.loads(l) for l in lines]
        eq((a["facility"], a["severity"], a["pri"]), ("local3", "warning", 156))
        eq((a["app"], a["message"], a["host"]), ("t3164", "hello 3164", HOST))
        check(re.fullmatch(TS, a["timestamp"]), a["timestamp"])
        check(a["sender"].startswith("127.0.0.1:"), a["sender"])
        check("pid" not in a, "no credentials over UDP")
        eq((b["facility"], b["severity"], b["pri"]), ("daemon", "err", 27))
        eq((b["app"], b["msgid"], b["message"], b["host"]), ("t5424", "ID47", "hello 5424", HOST))
        check(re.match(r"\d{4}-\d\d-\d\dT", b["timestamp"]), b["timestamp"])
        check('[ex@32473 iut="3"]' in b["sd"], b["sd"])
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d", b["time"]),
              b["time"])
        eq(d.stop(), 0)


def test_python_syslog_handler_unix_and_udp():
    tmp = tmpdir()
    out = tmp + "/py.log"
    d = Dgramd(conf(unix_sock(tmp + "/log", handlers=log(out)),
                    udp_sock(handlers=log(out))), tmpdir=tmp)
    with d:
        lg = logging.getLogger("t_log")
        lg.propagate = False
        hu = logging.handlers.SysLogHandler(address=tmp + "/log")
        hu.ident = "pyapp: "
        lg.addHandler(hu)
        lg.warning("over unix")
        lg.removeHandler(hu)
        hu.close()
        wait_lines(out, 1)
        hn = logging.handlers.SysLogHandler(address=("127.0.0.1", d.port("in")),
                                            facility=logging.handlers.SysLogHandler.LOG_LOCAL0)
        lg.addHandler(hn)
        lg.error("over udp")
        lg.removeHandler(hn)
        hn.close()
        lines = [l.decode() for l in wait_lines(out, 2)]
        eq(len(lines), 2)
        # The trailing NUL python sends is stripped, not escaped.
        check(re.fullmatch((TS + " %s pyapp: over unix") % re.escape(HOST), lines[0]), lines[0])
        check(re.fullmatch(TS + " 127.0.0.1 over udp", lines[1]), lines[1])
        eq(d.stop(), 0)


def test_python_messages_starting_with_a_digit_keep_their_text():
    """Issue 14: "1 disk failed ..." is not an RFC 5424 header."""
    tmp = tmpdir()
    out = tmp + "/py.json"
    d = Dgramd(conf(udp_sock(handlers=log(out, "json"))), tmpdir=tmp)
    with d:
        lg = logging.getLogger("t_log_digits")
        lg.propagate = False
        h = logging.handlers.SysLogHandler(address=("127.0.0.1", d.port("in")))
        lg.addHandler(h)
        lg.warning("1 disk failed in array md0")
        lg.removeHandler(h)
        h.close()
        c = udp_client()
        c.sendto(b"<13>2 files copied", d.udp("in"))
        lines = [json.loads(l) for l in wait_lines(out, 2)]
        eq(len(lines), 2)
        eq((lines[0]["severity"], lines[0]["message"]), ("warning", "1 disk failed in array md0"))
        eq((lines[1]["severity"], lines[1]["message"]), ("notice", "2 files copied"))
        for l in lines:
            for k in ("timestamp", "app", "procid", "msgid"):
                check(k not in l, "%s: %r" % (k, l))
        eq(d.stop(), 0)


def test_logger_octet_count_udp_and_unix():
    """Issue 14: logger --octet-count frames each datagram with "LEN "; a
    critical message must not become user.notice (and be filtered out)."""
    tmp = tmpdir()
    out = tmp + "/oc.json"
    only_crit = 'min_severity = "crit";'
    d = Dgramd(conf(udp_sock(handlers=log(out, "json", only_crit)),
                    unix_sock(tmp + "/log", handlers=log(out, "json", only_crit))), tmpdir=tmp)
    with d:
        subprocess.run(["logger", "-d", "-n", "127.0.0.1", "-P", str(d.port("in")),
                        "--octet-count", "-p", "auth.crit", "-t", "oc", "x"], check=True)
        wait_lines(out, 1)
        subprocess.run(["logger", "-u", tmp + "/log", "--octet-count", "-p", "auth.crit",
                        "-t", "ocu", "y"], check=True)
        lines = [json.loads(l) for l in wait_lines(out, 2)]
        eq(len(lines), 2)
        eq([(l["facility"], l["severity"], l["app"], l["message"]) for l in lines],
           [("auth", "crit", "oc", "x"), ("auth", "crit", "ocu", "y")])
        eq(d.stop(), 0)


def test_json_credentials_match_sender():
    tmp = tmpdir()
    out = tmp + "/cred.json"
    d = Dgramd(conf(unix_sock(tmp + "/log", handlers=log(out, "json"))), tmpdir=tmp)
    with d:
        c = unix_client()
        c.sendto(b"<14>me: from python", tmp + "/log")
        p = subprocess.run(["logger", "-u", tmp + "/log", "-i", "-t", "lg", "from logger"],
                           check=True)
        lines = wait_lines(out, 2)
        eq(len(lines), 2)
        a, b = [json.loads(l) for l in lines]
        eq((a["pid"], a["uid"], a["gid"]), (os.getpid(), os.getuid(), os.getgid()))
        eq(a["sender"], "(unbound)")
        eq(a["size"], len(b"<14>me: from python"))
        eq((a["app"], a["message"], a["severity"], a["host"]), ("me", "from python", "info", HOST))
        # logger -i puts its own pid in the tag: the kernel-checked pid agrees.
        eq(b["procid"], str(b["pid"]))
        check(b["pid"] != os.getpid())
        eq(d.stop(), 0)


def test_credentials_follow_reload():
    # Credentials are asked for only where something reads them: a reload
    # that turns a raw socket into a json one, or adds allow_uids, on the
    # same (kept) socket must get them from then on.
    tmp = tmpdir()
    path = tmp + "/log"
    uid = os.getuid()
    d = Dgramd(conf(unix_sock(path, handlers=log(tmp + "/1.log", "raw"))), tmpdir=tmp)
    with d:
        c = unix_client()

        def reload_to(text):
            start = len(d.lines)
            d.write_conf(text)
            d.send_signal(signal.SIGHUP)
            d.wait_line(r"dgramd: reloaded ", start)

        c.sendto(b"<14>me: raw", path)
        check(wait_lines(tmp + "/1.log", 1)[0].endswith(b" <14>me: raw"))
        reload_to(conf(unix_sock(path, handlers=log(tmp + "/2.json", "json"))))
        c.sendto(b"<14>me: json", path)
        a = json.loads(wait_lines(tmp + "/2.json", 1)[0])
        eq((a["message"], a["pid"], a["uid"], a["gid"]),
           ("json", os.getpid(), uid, os.getgid()))
        # allow_uids without a json handler: only another uid is allowed.
        other = 'allow_uids = [ %d ]; ' % (uid + 1)
        reload_to(conf(unix_sock(path, handlers=log(tmp + "/3.log", "raw")).replace(
            "handlers", other + "handlers")))
        c.sendto(b"<14>me: denied", path)
        eq(d.wait_stat("dev", "denied", 1)["denied"], 1)
        mine = 'allow_uids = [ %d ]; ' % uid
        reload_to(conf(unix_sock(path, handlers=log(tmp + "/3.log", "raw")).replace(
            "handlers", mine + "handlers")))
        c.sendto(b"<14>me: allowed", path)
        lines = wait_lines(tmp + "/3.log", 1)
        eq(len(lines), 1)
        check(lines[0].endswith(b" <14>me: allowed"), lines)
        eq(d.stats("dev")["denied"], 1)
        eq(d.stop(), 0)


GLIBC_PROG = r"""
#include <syslog.h>
int main(void) { openlog("gtag", LOG_PID, LOG_LOCAL3); syslog(LOG_ERR, "glibc %s", "msg");
closelog(); return 0; }
"""


def test_glibc_syslog_through_dev_log():
    if os.getuid() != 0 or not shutil.which("unshare") or not shutil.which("cc"):
        return "skip"
    tmp = tmpdir()
    out = tmp + "/glibc.json"
    with open(tmp + "/g.c", "w") as f:
        f.write(GLIBC_PROG)
    subprocess.run(["cc", "-o", tmp + "/g", tmp + "/g.c"], check=True)
    d = Dgramd(conf(unix_sock(tmp + "/log", handlers=log(out, "json"))), tmpdir=tmp)
    with d:
        # /dev/log -> our socket, in a private mount namespace only.
        r = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount -t tmpfs none /dev && ln -s %s/log /dev/log && exec %s/g"
                            % (tmp, tmp)])
        if r.returncode != 0:
            d.stop()
            return "skip"
        lines = wait_lines(out, 1)
        eq(len(lines), 1)
        j = json.loads(lines[0])
        eq((j["facility"], j["severity"], j["app"], j["message"]), ("local3", "err", "gtag",
                                                                   "glibc msg"))
        eq(j["procid"], str(j["pid"]))
        check(re.fullmatch(TS, j["timestamp"]), j)
        eq(d.stop(), 0)


def test_min_severity_and_facilities_filters():
    tmp = tmpdir()
    warn = tmp + "/warn.log"
    fac = tmp + "/fac.log"
    d = Dgramd(conf(udp_sock(handlers=", ".join([
        log(warn, "raw", 'min_severity = "warning";'),
        log(fac, "syslog", 'facilities = [ "auth", "local0", "user" ];')]))), tmpdir=tmp)
    with d:
        c = udp_client()
        msgs = [b"<34>a: auth.crit", b"<38>a: auth.info", b"<132>a: local0.warning",
                b"<135>a: local0.debug", b"<27>a: daemon.err", b"<30>a: daemon.info",
                b"no pri is user.notice", b"<12>a: user.warning"]
        for m in msgs:
            c.sendto(m, d.udp("in"))
        st = d.wait_stat("in", "received", len(msgs))
        eq(st["received"], len(msgs))
        st = d.stats("in")
        kept_w = [m for m in msgs if m.split(b":")[-1].strip().split(b".")[-1]
                  in (b"crit", b"err", b"warning")]
        eq(st["log.0.written"], len(kept_w))
        eq(st["log.0.filtered"], len(msgs) - len(kept_w))
        eq(st["log.1.written"], 6)
        eq(st["log.1.filtered"], 2)
        got_w = [l.split(b" ", 2)[2] for l in read_lines(warn)]
        eq(got_w, kept_w)
        got_f = [syslog_fields(l)[2] for l in read_lines(fac)]
        eq(got_f, [b"a: auth.crit", b"a: auth.info", b"a: local0.warning", b"a: local0.debug",
                   b"no pri is user.notice", b"a: user.warning"])
        eq(d.stop(), 0)


def test_time_stamps_on_this_day():
    """The syslog line's RFC 3164 time stamp pads a one-digit day with a
    space ("Dec  5"), the raw line's RFC 3339 one has two digits; both show
    the day dgramd's clock is on (tests/run.sh also runs this file with the
    clock on a one-digit and on a two-digit day: DGRAMD_TEST_DAY)."""
    tmp = tmpdir()
    sl, raw = tmp + "/s.log", tmp + "/r.log"
    day = int(os.environ.get("DGRAMD_TEST_DAY") or time.strftime("%d"))
    with Dgramd(conf(udp_sock(handlers=", ".join([log(sl, "syslog"), log(raw, "raw")]))),
                tmpdir=tmp) as d:
        udp_client().sendto(b"<13>t: on this day", d.udp("in"))
        s_lines, r_lines = wait_lines(sl, 1), wait_lines(raw, 1)
        eq(len(s_lines), 1)
        eq(len(r_lines), 1)
        ts, host, rest = syslog_fields(s_lines[0])
        eq(ts[4:6], b"%2d" % day, "RFC 3164 day in %r" % s_lines[0])
        eq((host, rest), (b"127.0.0.1", b"t: on this day"))
        check(re.match(rb"^\d{4}-\d\d-%02d" % day, r_lines[0]), r_lines[0])
        eq(d.stop(), 0)


HOSTILE = [
    b"<13>evil: one\nNov 25 10:00:00 host forged[1]: two",
    b"<13>evil: cr\rback \x1b[2J\x1b]0;title\x07 clear",
    b"<13>evil: nul\x00inside\x00",
    b"<13>evil: bad utf8 \xff\xfe \xc0\xaf \xed\xa0\x80 and C1 \xc2\x9b31m ok \xc3\xa9",
    b"\n\n\n",
    b"",
    b"<13>1 - h\n a\x1b p m [x y=\"\n\"] \x00\n",
    bytes(range(256)),
]


def test_hostile_payloads_one_line_each_all_formats():
    tmp = tmpdir()
    files = {f: "%s/h.%s" % (tmp, f) for f in ("raw", "syslog", "json")}
    d = Dgramd(conf(unix_sock(tmp + "/log", handlers=", ".join(
        log(files[f], f) for f in files))), tmpdir=tmp)
    with d:
        c = unix_client()
        for m in HOSTILE:
            c.sendto(m, tmp + "/log")
        for f, p in files.items():
            lines = wait_lines(p, len(HOSTILE))
            eq(len(lines), len(HOSTILE), f)
            for l in lines:
                check(not re.search(rb"[\x00-\x1f\x7f]", l), "control byte in %s: %r" % (f, l))
                l.decode("utf-8")   # valid UTF-8 throughout
                check(b"\xc2\x9b" not in l, "raw C1 control in %s" % f)
        js = [json.loads(l) for l in read_lines(files["json"])]
        eq(js[0]["message"], "one\nNov 25 10:00:00 host forged[1]: two")
        eq(js[1]["message"], "cr\rback \x1b[2J\x1b]0;title\x07 clear")
        eq(js[2]["message"], "nul\x00inside")
        eq(js[3]["message"], "bad utf8 \ufffd\ufffd \ufffd\ufffd \ufffd\ufffd\ufffd and C1 "
           "\x9b31m ok \xe9")
        eq(js[4]["message"], "")
        eq(js[5]["size"], 0)
        eq(js[7]["size"], 256)
        sl = read_lines(files["syslog"])
        check(sl[0].endswith(b"evil: one\\nNov 25 10:00:00 host forged[1]: two"), sl[0])
        check(sl[1].endswith(b"evil: cr\\rback \\x1b[2J\\x1b]0;title\\x07 clear"), sl[1])
        check(sl[3].endswith(b"bad utf8 \\xff\\xfe \\xc0\\xaf \\xed\\xa0\\x80 and C1 "
                             b"\\xc2\\x9b31m ok \xc3\xa9"), sl[3])
        eq(d.stats("dev")["log.0.written"], len(HOSTILE))
        eq(d.stop(), 0)


def test_stdout_raw_and_sender():
    tmp = tmpdir()
    d = Dgramd(conf(udp_sock(handlers=log("-", "raw"))), tmpdir=tmp)
    with d:
        c = udp_client()
        c.sendto(b"<13>to stdout\n", d.udp("in"))
        lines = wait_out(d, 1)
        eq(len(lines), 1)
        m = re.fullmatch(r"(\S+) 127\.0\.0\.1:(\d+) <13>to stdout", lines[0])
        check(m, lines[0])
        eq(int(m.group(2)), c.getsockname()[1])
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
