# bench.mk: build rules for the benchmark tools, for inclusion by the main
# Makefile (include tests/bench/bench.mk) or on its own:
#   make -f tests/bench/bench.mk bench-tools
# Paths are relative to the top of the tree. CC and CFLAGS are honoured;
# BENCH_CFLAGS comes last so the tools stay optimized and C11.

CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra
BENCH_DIR ?= tests/bench
BENCH_CFLAGS ?= -std=c11 -O2 -Wall -Wextra
BENCH_TOOLS = $(BENCH_DIR)/dgload $(BENCH_DIR)/ceiling

# Keep whatever default goal the including Makefile has (or will have).
bench_saved_goal := $(.DEFAULT_GOAL)

.PHONY: bench-tools bench-run bench-quick bench-clean

bench-tools: $(BENCH_TOOLS)

$(BENCH_DIR)/dgload: $(BENCH_DIR)/dgload.c $(BENCH_DIR)/bench.c $(BENCH_DIR)/bench.h
	$(CC) $(CFLAGS) $(BENCH_CFLAGS) -o $@ $(BENCH_DIR)/dgload.c $(BENCH_DIR)/bench.c

$(BENCH_DIR)/ceiling: $(BENCH_DIR)/ceiling.c $(BENCH_DIR)/bench.c $(BENCH_DIR)/bench.h
	$(CC) $(CFLAGS) $(BENCH_CFLAGS) -o $@ $(BENCH_DIR)/ceiling.c $(BENCH_DIR)/bench.c

# The full run (under 10 minutes) and the smoke run; the driver skips
# dgramd rows while ./dgramd does not exist.
bench-run: bench-tools
	$(BENCH_DIR)/run-bench.sh

bench-quick: bench-tools
	BENCH_QUICK=1 $(BENCH_DIR)/run-bench.sh

bench-clean:
	rm -f $(BENCH_TOOLS)

.DEFAULT_GOAL := $(bench_saved_goal)
