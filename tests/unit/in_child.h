/*
 * in_child.h: for tests that pass sockets at fds 3 and 4 (LISTEN_FDS),
 * shared by tests/unit/test-activation.c and tests/unit/test-listen.c.
 * fds 3 and 4 may be the test framework's own, so such a case runs in a
 * child of its own: in_child() runs fn there and returns its exit status
 * (0: all passed). In the child, REQUIRE() prints the check that failed
 * and makes fn return 1.
 */
#ifndef DGRAMD_IN_CHILD_H
#define DGRAMD_IN_CHILD_H

#include <check.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define REQUIRE(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
		return 1;						\
	}								\
} while (0)

static inline int
in_child(int (*fn)(void))
{
	int status;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#endif
