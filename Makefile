# dgramd: a datagram server daemon.
#
#   make            build ./dgramd
#   make check      build and run every test (unit, integration, lint)
#   make SANITIZE=1 check   the same under AddressSanitizer + UBSan
#   make run        run ./dgramd on conf/dgramd.local.conf in the foreground
#   make deps       install the Debian packages needed to build and test
#   make bench      the benchmark
#   make check-systemd   the units under a booted systemd (root, systemd-nspawn)
#   make install    PREFIX, DESTDIR, SYSCONFDIR, MANDIR, SYSTEMDUNITDIR, SYSUSERSDIR

VERSION		= 0.1.0
CC		?= cc
PKG_CONFIG	?= pkg-config
PKGS		= libconfig libsystemd

PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
# Configuration lives in /etc for the system prefixes (/usr, /usr/local), where
# the man pages, logrotate and the units look; a self-contained prefix such as
# /opt/dgramd keeps it under $(PREFIX)/etc.
SYSCONFDIR	?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
MANDIR		?= $(PREFIX)/share/man
SYSTEMDUNITDIR	?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null || echo $(PREFIX)/lib/systemd/system)
SYSUSERSDIR	?= $(shell $(PKG_CONFIG) --variable=sysusersdir systemd 2>/dev/null || echo $(PREFIX)/lib/sysusers.d)
DESTDIR		?=

CFLAGS		?= -O2 -g
WARNFLAGS	= -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
		  -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
# src/ has a folder per layer: core (main, daemon, config, loop), net
# (sockets, activation, routing, addresses), handlers, syslog (the codec),
# util (diagnostics, buffers). Headers are included by name from any of them.
SRC_DIRS	= core net handlers syslog util
SRC_INC		= $(patsubst %,-Isrc/%,$(SRC_DIRS))
ALL_CFLAGS	= -std=gnu11 $(WARNFLAGS) $(CFLAGS) -D_GNU_SOURCE \
		  -DDGRAMD_VERSION='"$(VERSION)"' $(SRC_INC) $(shell $(PKG_CONFIG) --cflags $(PKGS))
LIBS		= $(shell $(PKG_CONFIG) --libs $(PKGS))
CHECK_CFLAGS	= $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS	= $(shell $(PKG_CONFIG) --libs check)

ifeq ($(SANITIZE),1)
ALL_CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS		+= -fsanitize=address,undefined
OBJDIR		= src/.obj-san
else
OBJDIR		= src/.obj
endif

SRCS		= $(foreach d,$(SRC_DIRS),$(wildcard src/$(d)/*.c))
OBJS		= $(patsubst src/%.c,$(OBJDIR)/%.o,$(SRCS))
LIB_OBJS	= $(filter-out $(OBJDIR)/core/main.o,$(OBJS))
UNIT_SRCS	= $(wildcard tests/unit/test-*.c)
UNIT_BINS	= $(patsubst tests/unit/%.c,$(OBJDIR)/tests/%,$(UNIT_SRCS))

.PHONY: all check check-systemd unit integration lint run deps clean install uninstall bench fuzz FORCE

all: dgramd dgramctl

# Relink when the build mode (SANITIZE) changes.
$(OBJDIR)/.mode: FORCE
	@mkdir -p $(OBJDIR)
	@echo '$(ALL_CFLAGS) $(LDFLAGS) $(LIBS)' | cmp -s - $@ || echo '$(ALL_CFLAGS) $(LDFLAGS) $(LIBS)' > $@
	@cmp -s $@ src/.last-link 2>/dev/null || touch $@

$(OBJDIR)/%.o: src/%.c $(OBJDIR)/.mode
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# ./dgramd is relinked whenever the last link was of the other build mode.
dgramd: $(OBJS) $(OBJDIR)/.mode
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)
	@cp $(OBJDIR)/.mode src/.last-link

# dgramctl, the control client: a program of its own (src/ctl/).
dgramctl: $(OBJDIR)/ctl/dgramctl.o
	$(CC) $(LDFLAGS) -o $@ $^

$(OBJDIR)/tests/%: tests/unit/%.c $(LIB_OBJS) $(OBJDIR)/.mode
	@mkdir -p $(OBJDIR)/tests
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS) $(CHECK_LIBS)

-include $(OBJS:.o=.d) $(OBJDIR)/ctl/dgramctl.d

-include tests/bench/bench.mk
-include tests/fuzz/fuzz.mk

check: dgramd dgramctl $(UNIT_BINS)
	@UNIT_BINS='$(UNIT_BINS)' SANITIZE='$(SANITIZE)' tests/run.sh

# The shipped units under a real systemd: boots a Debian 12 container
# (systemd-nspawn, as root; the root is built once with debootstrap and kept
# under /var/tmp) and runs the operator's scenarios in it. Ends with
# "N passed, N failed"; skips (never passes) where no container can boot.
check-systemd: dgramd
	@tests/systemd/run.sh

# cppcheck and clang-tidy over src/*/*.c (or LINT_FILES); fails on any finding.
lint:
	tests/lint.sh $(LINT_FILES)

# The benchmark (under 10 minutes): a table and a CSV; BENCH_QUICK=1 for a smoke run.
bench: dgramd bench-tools
	tests/bench/run-bench.sh

run: dgramd
	mkdir -p run
	./dgramd -c conf/dgramd.local.conf

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    build-essential pkg-config libconfig-dev libsystemd-dev check \
	    python3 socat bsdutils util-linux procps iproute2 systemd strace cppcheck clang-tidy \
	    groff-base mandoc clang libclang-rt-14-dev nodejs faketime rsyslog \
	    prometheus jq tmux curl systemd-container debootstrap bind9-dnsutils dnsmasq-base

clean:
	rm -rf src/.obj src/.obj-san src/.last-link dgramd dgramctl tests/bench/dgload tests/bench/ceiling
	rm -rf tests/fuzz/bin

install: dgramd dgramctl
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(SYSCONFDIR)/dgramd $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 dgramd $(DESTDIR)$(SBINDIR)/dgramd
	install -m 0755 dgramctl $(DESTDIR)$(SBINDIR)/dgramctl
	install -m 0644 man/dgramctl.8 $(DESTDIR)$(MANDIR)/man8/dgramctl.8
	install -m 0644 man/dgramd.8 $(DESTDIR)$(MANDIR)/man8/dgramd.8
	install -m 0644 man/dgramd.conf.5 $(DESTDIR)$(MANDIR)/man5/dgramd.conf.5
	test -e $(DESTDIR)$(SYSCONFDIR)/dgramd/dgramd.conf || \
	    install -m 0644 conf/dgramd.conf $(DESTDIR)$(SYSCONFDIR)/dgramd/dgramd.conf
	sed -e 's|@sbindir@|$(SBINDIR)|g' conf/logrotate.d/dgramd > $(DESTDIR)$(SYSCONFDIR)/logrotate.d/dgramd
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/logrotate.d/dgramd
	for u in dgramd.service dgramd@.service dgramd.socket dgramd-relay.socket; do \
	    sed -e 's|@sbindir@|$(SBINDIR)|g' -e 's|@sysconfdir@|$(SYSCONFDIR)|g' \
	        systemd/$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; done
	install -m 0644 systemd/dgramd.sysusers $(DESTDIR)$(SYSUSERSDIR)/dgramd.conf
	@# The user "dgramd" of the units; with DESTDIR (a staged tree) it is
	@# created by systemd-sysusers at the next boot, or by running it there.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
	    echo "systemd-sysusers $(SYSUSERSDIR)/dgramd.conf"; \
	    systemd-sysusers $(SYSUSERSDIR)/dgramd.conf; \
	else \
	    echo "note: run systemd-sysusers (as root, on the target system) to create the user dgramd"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/dgramd $(DESTDIR)$(MANDIR)/man8/dgramd.8 \
	    $(DESTDIR)$(SBINDIR)/dgramctl $(DESTDIR)$(MANDIR)/man8/dgramctl.8 \
	    $(DESTDIR)$(MANDIR)/man5/dgramd.conf.5 $(DESTDIR)$(SYSCONFDIR)/logrotate.d/dgramd \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/dgramd.service $(DESTDIR)$(SYSTEMDUNITDIR)/dgramd@.service \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/dgramd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/dgramd-relay.socket \
	    $(DESTDIR)$(SYSUSERSDIR)/dgramd.conf
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/dgramd/dgramd.conf and the user dgramd (remove them by hand if unwanted)"
