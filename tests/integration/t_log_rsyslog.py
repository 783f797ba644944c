"""Differential test of the log handler against rsyslog (issue 14).

A real rsyslogd (Debian's rsyslog, started here in the foreground with its
own configuration: imudp on a loopback port, imuxsock on a unix socket in
a temporary directory, DNS lookups off, never the system service or
/dev/log) and dgramd receive the same corpus of real-world datagrams
(tests/corpus/syslog-datagrams.txt), each over the socket type its line
names. rsyslog writes the fields it parsed with a template and its
RSYSLOG_TraditionalFileFormat file; dgramd writes json and, with
compat = "rsyslog", a syslog-format file.

- test_fields_match_rsyslog: field by field (PRI, facility, severity,
  host, program, PROCID, MSGID, STRUCTURED-DATA, message), every
  difference must be one of DIFFERENCES below, each with the reason dgramd
  is deliberately different, and every listed difference must occur.
- test_compat_file_equals_rsyslog: the compat file equals rsyslog's file
  line by line, byte for byte, except the datagrams of COMPAT_DIFFERENCES.
  A time stamp that is the receive time may differ by the second the two
  daemons received it in, nothing else; the comparison does not depend on
  the date (it also runs under libfaketime).

Without rsyslogd the two comparisons print "skip NAME (rsyslogd not
installed ...)"; they never pass without it.
"""
import codecs
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

from dgtest import ROOT, TIMEOUT, Dgramd, check, eq, main
from logtest import read_lines, tmpdir

CORPUS = os.path.join(ROOT, "tests", "corpus", "syslog-datagrams.txt")


def find_rsyslogd():
    """$RSYSLOGD (empty: none, to see the skips), else rsyslogd on PATH or in /usr/sbin."""
    if "RSYSLOGD" in os.environ:
        return os.environ["RSYSLOGD"] or None
    return shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/sbin")


RSYSLOGD = find_rsyslogd()
FIELDS = ("pri", "facility", "severity", "host", "program", "procid", "msgid", "sd", "msg")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BATCH = 25


def load_corpus():
    """[(via, sender, bytes)] from the corpus file."""
    out = []
    with open(CORPUS, encoding="ascii") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            via, sender, text = line.split("\t")
            assert via in ("udp", "unix"), line
            out.append((via, sender, codecs.escape_decode(text.encode())[0]))
    return out


SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)       # Linux


def kernel_time():
    """The kernel's wall clock, as it stamps received datagrams (SO_TIMESTAMP):
    libfaketime fakes the clock of processes, not these stamps, and rsyslog's
    imuxsock uses them as the receive time."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        b.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        a.send(b"t")
        _, anc, _, _ = b.recvmsg(16, socket.CMSG_SPACE(16))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == SO_TIMESTAMP:
            sec, usec = struct.unpack("qq", data[:16])
            return sec + usec / 1e6
    raise AssertionError("no SO_TIMESTAMP")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


RSYSLOG_CONF = """\
global(workDirectory="{tmp}" net.enableDNS="off" maxMessageSize="64k")
module(load="imudp")
module(load="imuxsock" SysSock.Use="off")
template(name="fields" type="string" string="%pri%\\t%syslogfacility-text%\\t\
%syslogseverity-text%\\t%hostname%\\t%programname%\\t%procid%\\t%msgid%\\t\
%structured-data%\\t%protocol-version%\\t%syslogtag%\\t%msg%\\n")
ruleset(name="udp") {{
  action(type="omfile" file="{tmp}/rs-udp.fields" template="fields")
  action(type="omfile" file="{tmp}/rs-udp.log" template="RSYSLOG_TraditionalFileFormat")
}}
ruleset(name="unix") {{
  action(type="omfile" file="{tmp}/rs-unix.fields" template="fields")
  action(type="omfile" file="{tmp}/rs-unix.log" template="RSYSLOG_TraditionalFileFormat")
}}
input(type="imudp" address="127.0.0.1" port="{port}" ruleset="udp")
input(type="imuxsock" Socket="{tmp}/rs.sock" ruleset="unix"{sysstamp})
"""

# tests/run.sh may run this file with dgramd on a fake clock (libfaketime,
# "@YYYY-MM-DD HH:MM:SS": starts there when the process starts, then runs);
# rsyslogd then runs on the same fake clock and stamps unix datagrams with
# it rather than with the kernel's receive time (UseSysTimeStamp).
FAKETIME = os.environ.get("DGRAMD_TEST_FAKETIME", "")
FAKE_T0 = None      # the real time the daemons were started at


def fake_now():
    """The fake clock's time now (the real one when there is none)."""
    if not FAKETIME.startswith("@") or FAKE_T0 is None:
        return time.time()
    start = time.mktime(time.strptime(FAKETIME[1:], "%Y-%m-%d %H:%M:%S"))
    return start + (time.time() - FAKE_T0)

DGRAMD_CONF = """\
sockets = (
  {{ name = "udp"; type = "udp4"; address = "127.0.0.1"; port = 0;
    max_size = 65535;
    handlers = (
      {{ type = "log"; file = "{tmp}/dg-udp.json"; format = "json"; }},
      {{ type = "log"; file = "{tmp}/dg-udp.log"; format = "syslog"; compat = "rsyslog"; }}
    ); }},
  {{ name = "unix"; type = "unix_dgram"; path = "{tmp}/dg.sock";
    handlers = (
      {{ type = "log"; file = "{tmp}/dg-unix.json"; format = "json"; }},
      {{ type = "log"; file = "{tmp}/dg-unix.log"; format = "syslog"; compat = "rsyslog"; }}
    ); }}
);
"""


def sentinel(k):
    return b"<13>Jan  1 00:00:00 h dgramd-sentinel-%d: x" % k


def split_by_sentinels(lines, n):
    """lines between sentinel k-1 and k are those of datagram k: [[line]] * n."""
    out, cur, want = [], [], 0
    for line in lines:
        if b"dgramd-ready" in line:     # a late copy of a start-up probe
            continue
        m = re.search(rb"dgramd-sentinel-(\d+)", line)
        if m:
            eq(int(m.group(1)), want, "sentinel order")
            out.append(cur)
            cur, want = [], want + 1
        else:
            cur.append(line)
    eq(len(out), n, "sentinels seen")
    return out


class Run:
    """Both daemons fed the corpus once; results per datagram."""

    def __init__(self):
        self.corpus = load_corpus()
        self.tmp = tmpdir()
        port = free_udp_port()
        with open(self.tmp + "/rsyslog.conf", "w") as f:
            f.write(RSYSLOG_CONF.format(tmp=self.tmp, port=port,
                                        sysstamp=' UseSysTimeStamp="off"' if FAKETIME else ""))
        with open(self.tmp + "/rsyslog.out", "wb") as out:
            # When tests/run.sh puts dgramd on a fake clock (a one- or a
            # two-digit day), rsyslogd runs on the same one.
            global FAKE_T0
            FAKE_T0 = time.time()
            env = dict(os.environ)
            if FAKETIME:
                env.update(LD_PRELOAD=os.environ["DGRAMD_TEST_FAKETIME_LIB"],
                           FAKETIME=os.environ["DGRAMD_TEST_FAKETIME"],
                           FAKETIME_DONT_FAKE_MONOTONIC="1", FAKETIME_DISABLE_SHM="1")
            self.rs = subprocess.Popen([RSYSLOGD, "-n", "-f", self.tmp + "/rsyslog.conf",
                                        "-i", self.tmp + "/rsyslog.pid"],
                                       stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, env=env)
        self.dg = Dgramd(DGRAMD_CONF.format(tmp=self.tmp), tmpdir=self.tmp)
        try:
            self.feed(port)
        finally:
            self.stop()

    def feed(self, port):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        x = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        dst = {"udp": [("127.0.0.1", port), self.dg.udp("udp")],
               "unix": [self.tmp + "/rs.sock", self.tmp + "/dg.sock"]}
        sock = {"udp": u, "unix": x}
        files = {via: [self.tmp + "/rs-%s.fields" % via, self.tmp + "/rs-%s.log" % via,
                       self.tmp + "/dg-%s.json" % via, self.tmp + "/dg-%s.log" % via]
                 for via in ("udp", "unix")}
        # rsyslogd is ready when a first sentinel comes through on both inputs.
        deadline = time.monotonic() + TIMEOUT
        for via in ("udp", "unix"):
            while not os.path.exists(self.tmp + "/rs.sock") and time.monotonic() < deadline:
                time.sleep(0.02)
            while time.monotonic() < deadline:
                try:
                    sock[via].sendto(b"<13>Jan  1 00:00:00 h dgramd-ready: x", dst[via][0])
                except OSError:
                    pass
                if any(b"dgramd-ready" in l for l in read_lines(files[via][0])):
                    break
                time.sleep(0.1)
            check(any(b"dgramd-ready" in l for l in read_lines(files[via][0])),
                  "rsyslogd did not start: %s" % self.rs_output())
        # dgramd may be writing a late start-up probe now: count whole lines
        # (one cut short here is skipped later as a late probe).
        self.base = {f: len(read_lines(f, partial=True)) for v in files for f in files[v]}
        self.count = {"udp": 0, "unix": 0}
        # (via, sender, data, index within via, receive-time windows)
        self.items = []
        for i, (via, sender, data) in enumerate(self.corpus):
            t0 = (time.time(), kernel_time(), fake_now())
            for d in dst[via]:
                sock[via].sendto(data, d)
            for d in dst[via]:
                sock[via].sendto(sentinel(self.count[via]), d)
            self.items.append([via, sender, data, self.count[via], t0])
            self.count[via] += 1
            if i % BATCH == BATCH - 1 or i == len(self.corpus) - 1:
                for v in ("udp", "unix"):
                    self.wait_sentinel(files[v], self.count[v])
                t1 = (time.time(), kernel_time(), fake_now())
                for it in self.items:
                    if isinstance(it[4], tuple):
                        it[4] = [(it[4][k], t1[k]) for k in range(3)]
        self.out = {}
        for via in ("udp", "unix"):
            self.out[via] = [split_by_sentinels(read_lines(f)[self.base[f]:], self.count[via])
                             for f in files[via]]

    def wait_sentinel(self, paths, n):
        if n == 0:
            return
        deadline = time.monotonic() + TIMEOUT
        tag = b"dgramd-sentinel-%d" % (n - 1)
        for p in paths:
            while time.monotonic() < deadline:
                lines = read_lines(p)
                if lines and tag in lines[-1]:
                    break
                time.sleep(0.01)
            lines = read_lines(p)
            check(lines and tag in lines[-1], "%s: no %s" % (p, tag.decode()))

    def rs_output(self):
        with open(self.tmp + "/rsyslog.out", "rb") as f:
            return "rsyslogd exit %r: %s" % (self.rs.poll(), f.read()[-2000:].decode(
                "utf-8", "replace"))

    def stop(self):
        if self.rs.poll() is None:
            self.rs.send_signal(signal.SIGTERM)
        try:
            self.rs.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.rs.kill()
            self.rs.wait()
        self.dg.stop()

    def results(self):
        """[(via, sender, data, rs_fields_lines, rs_log_lines, dg_json_lines, dg_log_lines, t0, t1)]"""
        for via, sender, data, k, windows in self.items:
            o = self.out[via]
            yield via, sender, data, o[0][k], o[1][k], o[2][k], o[3][k], windows


_RUN = []


def run():
    if not _RUN:
        _RUN.append(Run())
    return _RUN[0]


def rs_escape(s):
    """rsyslog's escape on reception: each control byte as #ooo."""
    return re.sub(r"[\x00-\x1f]", lambda m: "#%03o" % ord(m.group(0)), s)


def rs_fields(line):
    """rsyslog's fields, in dgramd's representation: its MSG keeps the space
    that follows an RFC 3164 TAG (dgramd's message starts after it)."""
    v = line.decode("utf-8", "replace").split("\t")
    eq(len(v), len(FIELDS) + 2, "rsyslog fields line %r" % line)
    f = dict(zip(FIELDS[:-1] + ("version", "tag", "msg"), v))
    if f["version"] == "0" and f["tag"] and f["msg"].startswith(" "):
        f["msg"] = f["msg"][1:]
    if f["procid"] == "":               # "app[]:" has an empty PID: none
        f["procid"] = "-"
    return f


def dg_fields(line):
    j = json.loads(line)
    return {"pri": str(j["pri"]), "facility": j["facility"], "severity": j["severity"],
            "host": rs_escape(j.get("host", "")), "program": rs_escape(j.get("app", "")),
            "procid": rs_escape(j.get("procid", "-")), "msgid": rs_escape(j.get("msgid", "-")),
            "sd": rs_escape(j.get("sd", "-")), "msg": rs_escape(j["message"])}


def test_corpus_is_large_and_real():
    c = load_corpus()
    check(len(c) >= 200, "%d datagrams" % len(c))
    senders = " ".join(s for _, s, _ in c)
    for want in ("glibc syslog(3)", "logger --rfc3164", "logger --rfc5424", "--octet-count",
                 "--sd-id", "python SysLogHandler", "rsyslog omfwd", "journald", "Cisco IOS",
                 "Juniper", "FortiGate", "ESXi"):
        check(want in senders, "corpus lacks %s" % want)
    eq(sorted(set(v for v, _, _ in c)), ["udp", "unix"])


# --- the differences dgramd keeps on purpose -----------------------------------

VALID_PRI = re.compile(rb"<(\d{1,3})>")
CLOCK = rb"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
TS3339 = rb"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T" + CLOCK + rb"(\.\d+)?(Z|[+-]\d\d:\d\d)"
TS = re.compile(rb"((\d{4} )?[A-Za-z]{3} [ \d]?\d (\d{4} )?" + CLOCK + rb"(\.\d+)?:?|" + TS3339 +
                rb")( |$)")


def octet_counted(data):
    m = re.match(rb"([1-9]\d{0,5}) <", data)
    return bool(m) and int(m.group(1)) == len(data) - len(m.group(1)) - 1


def body(data):
    """The datagram after a valid PRI, or None when it has none."""
    m = VALID_PRI.match(data)
    if not m or int(m.group(1)) > 191:
        return None
    return data[m.end():]


def rfc5424(data):
    b = body(data)
    return b is not None and re.match(rb"1 (-|" + TS3339 + rb")( |$)", b) is not None


def after_ts(data):
    """The text after a time stamp at the start of the message, or None."""
    b = body(data)
    m = TS.match(b if b is not None else data)
    return None if m is None else (b if b is not None else data)[m.end():]


def first_word(data):
    b = body(data)
    return (b if b is not None else data).split(b" ")[0].decode("utf-8", "replace")


def rs_unescape_tail(a, b):
    """a is b followed by escaped trailing CR/LF/NUL bytes only."""
    return a.startswith(b) and re.fullmatch(r"(#015|#012|#000)+", a[len(b):]) is not None


# (name, fields, predicate(via, data, rsyslog, dgramd, field), reason). A predicate
# states the exact relation between the two results it explains.
DIFFERENCES = [
    ("octet counting", {"pri", "facility", "severity", "host", "program", "procid", "msgid",
                        "sd", "msg"},
     lambda v, d, a, b, f: octet_counted(d),
     "logger --octet-count frames even a datagram with \"LEN \" (RFC 6587); dgramd strips "
     "it when LEN is the rest of the datagram (issue 14), rsyslog takes LEN as text and the "
     "message as user.notice, so a filter would drop an auth.crit message"),
    ("RFC 5424 needs a time stamp", {"host", "program", "msg"},
     lambda v, d, a, b, f: v == "udp" and body(d) is not None and body(d).startswith(b"1 ")
     and not rfc5424(d) and b["msg"].endswith(a["msg"]),
     "rsyslog reads \"<PRI>1 \" as an RFC 5424 header even when no time stamp follows and "
     "drops the \"1 \": python's logging.warning(\"1 disk failed\") loses its first word; "
     "dgramd keeps the text whole (issue 14)"),
    ("invalid PRI", {"pri", "facility", "severity"},
     lambda v, d, a, b, f: d.startswith(b"<") and body(d) is None and a["pri"] == "invld"
     and b["pri"] == "13",
     "rsyslog files a datagram whose \"<\" starts no valid PRI as \"invld\"; dgramd as "
     "user.notice, the default of RFC 3164, with the text kept as the message"),
    ("RFC 5424 nil fields", {"host", "program"},
     lambda v, d, a, b, f: rfc5424(d) and a[f] == "-",
     "rsyslog writes a nil HOSTNAME or APP-NAME as \"-\"; dgramd leaves a nil field out "
     "(json has no such key) and names the sender's address as host"),
    ("RFC 5424 BOM", {"msg"},
     lambda v, d, a, b, f: rfc5424(d) and a["msg"] == "\ufeff" + b["msg"],
     "dgramd drops the byte order mark that starts an RFC 5424 MSG (it only announces "
     "UTF-8, RFC 5424 section 6.4); rsyslog keeps it in the message"),
    ("program name ends at a slash", {"program"},
     lambda v, d, a, b, f: "/" in b["program"] and a["program"] == b["program"].split("/")[0],
     "rsyslog's %programname% stops at the first \"/\" (postfix/smtpd is \"postfix\"); "
     "dgramd's app is the whole tag"),
    ("first word as host", {"host", "program", "procid", "msg"},
     lambda v, d, a, b, f: v == "udp" and after_ts(d) is None and a["host"] == first_word(d)
     and b["host"] == "127.0.0.1",
     "without a time stamp rsyslog takes the first word of a UDP message as the host name "
     "(python's \"error level\" is host \"error\", tag \"level\"); dgramd takes a host "
     "only after a time stamp and keeps the text as the message"),
    ("TAG needs a colon", {"program", "procid", "msg"},
     lambda v, d, a, b, f: v == "udp" and a["tag"] != "" and not re.fullmatch(
         r"[^\s\[:]+(\[[^\s\]]*\])?:", a["tag"]) and b["msg"].endswith(a["msg"]),
     "rsyslog ends a TAG at the first space or colon (\"12:30 meeting\" is tag \"12:\", "
     "\"MikroTik system,info ...\" is tag \"system,info\"); dgramd takes the first word "
     "as TAG only when it ends with \":\" (\"TAG:\" or \"TAG[PID]:\", journald's rule) "
     "and keeps other text as the message"),
    ("odd TAG", {"program", "procid", "msg"},
     lambda v, d, a, b, f: v == "udp" and a["tag"] != "" and (
         b["program"] == "" or "[" in b["program"] or b["program"].rstrip(":") == a["program"]),
     "a TAG that is only \":\", ends with \"::\" or holds text after \"[PID]\" "
     "(\"a[1]b:\"): rsyslog splits it its way, dgramd keeps the word as written"),
    ("host forms", {"host", "program", "msg"},
     lambda v, d, a, b, f: v == "udp" and after_ts(d) is not None and (
         (b["host"] == after_ts(d).split(b" ")[0].decode() and (":" in b["host"] or
                                                              b["host"].endswith(".")))
         or (a["host"] == after_ts(d).decode() and b["msg"] == a["host"])),
     "dgramd takes an IPv6 address or a name ending with a dot as the host after a time "
     "stamp, rsyslog does not; a lone word after a time stamp is the host for rsyslog, the "
     "message for dgramd"),
    ("trailing line ends", {"msg"},
     lambda v, d, a, b, f: rs_unescape_tail(a["msg"], b["msg"]),
     "rsyslog drops one trailing LF (and one NUL) and escapes the rest (\"#015\"); "
     "dgramd strips all trailing CR, LF and NUL bytes"),
    ("imuxsock's parser", {"host", "program", "procid", "msgid", "sd", "msg", "LINES"},
     lambda v, d, a, b, f: v == "unix",
     "on a unix socket rsyslog's imuxsock (its special parser, the default) reads no host "
     "name and no RFC 5424 header and takes everything up to the first space as TAG; it "
     "even writes control characters of that TAG unescaped, which breaks its line. dgramd "
     "parses unix datagrams like UDP ones: logger -u sends the network forms too"),
    ("imuxsock without PRI", {"pri", "facility", "severity"},
     lambda v, d, a, b, f: v == "unix" and body(d) is None,
     "imuxsock reads the first bytes of a datagram as a PRI whatever they are (\"plain "
     "text\" is kern.emerg); dgramd files a datagram without a PRI as user.notice"),
]


def explain(via, data, field, a, b):
    """The DIFFERENCES entries that explain field differing for this datagram."""
    out = []
    for name, fields, pred, _ in DIFFERENCES:
        if field in fields and pred(via, data, a if a is not None else {}, b, field):
            out.append(name)
    return out


def test_fields_match_rsyslog():
    if RSYSLOGD is None:
        return "skip"
    r = run()
    unexplained, used, n = [], set(), 0
    for via, sender, data, rf, rl, dj, dl, windows in r.results():
        eq(len(dj), 1, "dgramd lines for %r: %r" % (data, dj))
        b = dg_fields(dj[0])
        n += 1
        try:
            eq(len(rf), 1)
            a = rs_fields(rf[0])
        except AssertionError:
            why = explain(via, data, "LINES", None, b)
            used.update(why)
            if not why:
                unexplained.append("%s %r: rsyslog wrote %r" % (via, data, rf))
            continue
        for f in FIELDS:
            if a[f] == b[f]:
                continue
            why = explain(via, data, f, a, b)
            used.update(why)
            if not why:
                unexplained.append("%s %r: %s: rsyslog %r, dgramd %r" % (via, data, f, a[f],
                                                                        b[f]))
    for u in unexplained:
        print("# unexplained: " + u)
    eq(unexplained, [], "differences not in DIFFERENCES")
    unused = [name for name, _, _, _ in DIFFERENCES if name not in used]
    eq(unused, [], "listed differences that no longer occur")
    check(n >= 200, "%d datagrams compared" % n)


# The compat file: the datagrams whose line differs from rsyslog's, and why.
COMPAT_DIFFERENCES = [
    ("octet counting", lambda v, d: octet_counted(d),
     "dgramd strips the RFC 6587 octet count (issue 14); rsyslog writes it as text"),
    ("RFC 5424 needs a time stamp",
     lambda v, d: v == "udp" and body(d) is not None and body(d).startswith(b"1 ")
     and not rfc5424(d),
     "rsyslog drops the \"1 \" of \"<PRI>1 text\" (and any header-like words), dgramd "
     "keeps the text (issue 14) and reads it as RFC 3164, with rsyslog's RFC 3164 rules"),
    ("control characters in an imuxsock TAG",
     lambda v, d: v == "unix" and re.search(rb"[\x00-\x1f]", d.split(b" ")[0]) is not None,
     "imuxsock writes control characters of the first word unescaped (and bytes past the "
     "message), which breaks its line; dgramd writes them as #ooo like the rest"),
]


def rfc3164_at(t):
    tm = time.localtime(t)
    return "%s %2d %02d:%02d:%02d" % (MONTHS[tm.tm_mon - 1], tm.tm_mday, tm.tm_hour, tm.tm_min,
                                      tm.tm_sec)


def same_but_receive_time(a, b, windows):
    """a and b differ at most in receive-time stamps, each taken within one of
    the windows (the test's clock, maybe faked, or the kernel's)."""
    if a[15:] != b[15:]:
        return False
    near = {rfc3164_at(t).encode() for t0, t1 in windows
            for t in range(int(t0) - 1, int(t1) + 2)}
    return a[:15] in near and b[:15] in near


def test_compat_file_equals_rsyslog():
    if RSYSLOGD is None:
        return "skip"
    r = run()
    bad, used, same, rtime, listed = [], set(), 0, 0, 0
    for via, sender, data, rf, rl, dj, dl, windows in r.results():
        eq(len(dl), 1, "dgramd compat lines for %r: %r" % (data, dl))
        if rl == dl:
            same += 1
            continue
        if len(rl) == 1 and same_but_receive_time(rl[0], dl[0], windows):
            same += 1
            rtime += 1
            continue
        listed += 1
        why = [name for name, pred, _ in COMPAT_DIFFERENCES if pred(via, data)]
        used.update(why)
        if not why:
            bad.append("%s %r (%s):\n  rsyslog %r\n  dgramd  %r" % (via, data, sender, rl, dl))
    for x in bad:
        print("# differs: " + x)
    eq(bad, [], "compat lines that differ from rsyslog's")
    eq([name for name, _, _ in COMPAT_DIFFERENCES if name not in used], [],
       "listed compat differences that no longer occur")
    check(same >= 200, "%d identical lines" % same)
    print("# %d lines identical (%d of them with the receive time, which may differ by the "
          "second), %d listed differences" % (same, rtime, listed))


if __name__ == "__main__":
    if RSYSLOGD is None:
        for n in ("test_compat_file_equals_rsyslog", "test_fields_match_rsyslog"):
            print("skip %s (rsyslogd not installed: make deps installs rsyslog)" % n)
        sys.argv[1:] = ["test_corpus_is_large_and_real"]
    main(globals())
