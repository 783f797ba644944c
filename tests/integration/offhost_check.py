"""Reads an strace log (connect, sendto, sendmsg, sendmmsg; -v) and prints
every IPv4 or IPv6 destination that is not loopback (127.0.0.0/8, ::1,
or those as IPv4-mapped IPv6 addresses), with its line. Exits 1 when there
is any, 0 otherwise. Used by t_offhost.sh."""
import ipaddress
import re
import sys

V4 = re.compile(r'inet_addr\("([^"]+)"\)')
V6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')


def off_host(lines):
    off = []
    for line in lines:
        for a in V4.findall(line) + V6.findall(line):
            ip = ipaddress.ip_address(a)
            mapped = getattr(ip, "ipv4_mapped", None)
            if mapped is not None:
                ip = mapped
            if not ip.is_loopback:
                off.append((a, line.strip()[:300]))
    return off


if __name__ == "__main__":
    with open(sys.argv[1], errors="replace") as f:
        found = off_host(f)
    for a, l in found:
        print("%s: %s" % (a, l))
    sys.exit(1 if found else 0)
