#!/bin/bash
# Runs a command in a mount and network namespace of its own, so that no
# test can send anything off this host, DNS included:
#   - the only interface is lo (brought up), so 127.0.0.0/8 and ::1 work and
#     every other destination is unreachable;
#   - /etc/resolv.conf names 127.0.0.1, where tests/integration/dnsstub.py
#     answers (loopback addresses for its zones, NXDOMAIN for the rest);
#   - /etc/hosts holds only localhost, and /etc/nsswitch.conf asks files then
#     dns (no resolved, mdns or myhostname module reaching elsewhere).
# The bind mounts exist only inside the namespace; nothing on the host changes.
#
#   tests/netns.sh COMMAND [ARG...]
#
# Needs root (CI and `make check` as root). Exits 77 with one line on stderr
# when the namespace cannot be made; otherwise with COMMAND's status.
set -u
if [ "${1:-}" != "--inside" ]; then
	if ! unshare --mount --net --propagation private true 2>/dev/null; then
		echo "netns.sh: cannot make a mount+network namespace (needs root)" >&2
		exit 77
	fi
	exec unshare --mount --net --propagation private -- "$0" --inside "$@"
fi
shift
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/dgramd-netns-XXXXXX)
stub=
cleanup() {
	[ -n "$stub" ] && kill "$stub" 2>/dev/null && wait "$stub" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

die() { echo "netns.sh: $*" >&2; exit 77; }

ip link set lo up || die "cannot bring lo up"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$dir/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tip6-localhost ip6-loopback\n' > "$dir/hosts"
printf 'hosts: files dns\n' > "$dir/nsswitch.conf"
# Over the file a symlink points at (resolv.conf often is one); a dangling
# target's directory gets a tmpfs of its own inside the namespace.
over() {
	local target
	target=$(realpath -m "$2")
	if [ ! -e "$target" ]; then
		mkdir -p "$(dirname "$target")" 2>/dev/null || true
		mount -t tmpfs tmpfs "$(dirname "$target")" || die "cannot mount over $(dirname "$target")"
		: > "$target"
	fi
	mount --bind "$1" "$target" || die "cannot bind $1 over $target"
}
over "$dir/resolv.conf" /etc/resolv.conf
over "$dir/hosts" /etc/hosts
over "$dir/nsswitch.conf" /etc/nsswitch.conf

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" "$here/integration/dnsstub.py" --ready "$dir/ready" 2>"$dir/stub.err" &
stub=$!
for _ in $(seq 1 500); do
	[ -e "$dir/ready" ] && break
	kill -0 "$stub" 2>/dev/null || die "the DNS responder did not start: $(cat "$dir/stub.err")"
	sleep 0.01
done
[ -e "$dir/ready" ] || die "the DNS responder did not start in time"
export DGRAMD_TEST_RESOLVER=127.0.0.1
"$@"
