# fuzz.mk: libFuzzer harnesses, included by the main Makefile.
#
# Every tests/fuzz/fuzz-NAME.c (defining LLVMFuzzerTestOneInput) becomes
# tests/fuzz/bin/fuzz-NAME, linked with every src/*/*.c but core/main.c. Those are
# compiled here with clang and the sanitizers (never the gcc objects), into
# tests/fuzz/bin/obj/. Harnesses may include headers from src/ and
# tests/unit/ (shared checkers).
#
#   make fuzz               run each harness for FUZZ_SECS seconds (default 60)
#   make fuzz FUZZ=syslog   only fuzz-syslog
#   make fuzz-bins          build them only
#
# Seeds: tests/fuzz/corpus/NAME/ (optional, kept in git). Inputs found while
# fuzzing go to tests/fuzz/bin/corpus-NAME/, crashes to tests/fuzz/bin/NAME-*.
# An input that ever crashed becomes a case in the unit tests.

FUZZ_CC		?= clang
FUZZ_SECS	?= 60
FUZZ_PKG_CONFIG	?= pkg-config
FUZZ_DIR	= tests/fuzz
FUZZ_BIN	= $(FUZZ_DIR)/bin
FUZZ_SAN	= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		  -fno-omit-frame-pointer
FUZZ_CFLAGS	= -std=gnu11 -g -O1 -Wall -Wextra -D_GNU_SOURCE -DDGRAMD_FUZZ \
		  -DDGRAMD_VERSION='"fuzz"' $(patsubst %,-Isrc/%,core net handlers syslog util) -Itests/unit $(FUZZ_SAN) \
		  $(shell $(FUZZ_PKG_CONFIG) --cflags libconfig libsystemd)
FUZZ_LIBS	= $(shell $(FUZZ_PKG_CONFIG) --libs libconfig libsystemd)
FUZZ_OBJS	= $(patsubst src/%.c,$(FUZZ_BIN)/obj/%.o,$(filter-out src/core/main.c src/ctl/%,$(wildcard src/*/*.c)))
FUZZ_NAMES	= $(if $(FUZZ),$(FUZZ),$(patsubst $(FUZZ_DIR)/fuzz-%.c,%,$(wildcard $(FUZZ_DIR)/fuzz-*.c)))
FUZZ_BINS	= $(patsubst %,$(FUZZ_BIN)/fuzz-%,$(FUZZ_NAMES))

# Keep whatever default goal the including Makefile has.
fuzz_saved_goal := $(.DEFAULT_GOAL)

.PHONY: fuzz fuzz-bins

$(FUZZ_BIN)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BIN)/fuzz-%: $(FUZZ_DIR)/fuzz-%.c $(FUZZ_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -o $@ $< \
	    $(FUZZ_OBJS) $(FUZZ_LIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz: fuzz-bins
	@set -e; for n in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_BIN)/corpus-$$n; \
	    seeds=; [ -d $(FUZZ_DIR)/corpus/$$n ] && seeds=$(FUZZ_DIR)/corpus/$$n; \
	    echo "fuzz-$$n: $(FUZZ_SECS)s"; \
	    $(FUZZ_BIN)/fuzz-$$n -max_total_time=$(FUZZ_SECS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BIN)/$$n- $(FUZZ_BIN)/corpus-$$n $$seeds; \
	done

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)

.DEFAULT_GOAL := $(fuzz_saved_goal)
