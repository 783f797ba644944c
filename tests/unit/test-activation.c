/*
 * test-activation.c: the systemd protocols through sd-daemon, against this
 * process: sockets passed at fd 3 and 4 with LISTEN_FDS/LISTEN_FDNAMES
 * (names, the store/ prefix, FD_CLOEXEC, the variables unset), LISTEN_PID
 * of another process ignored, and the notifications (READY=1 with STATUS=,
 * RELOADING=1 with MONOTONIC_USEC=, the fd store's FDSTORE=1 with the fd
 * attached and FDSTOREREMOVE=1) received on a NOTIFY_SOCKET bound here.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "activation.h"
#include "in_child.h"

/* A fresh datagram socket at fds 3 and 4, and LISTEN_* naming them. */
static int
pass_fds(const char *listen_pid, const char *names)
{
	char buf[32];
	int i, s;

	for (i = 0; i < 2; i++) {
		s = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (s < 0)
			return -1;
		if (s == 3 + i)
			continue;
		if (dup2(s, 3 + i) != 3 + i)
			return -1;
		close(s);
	}
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	if (setenv("LISTEN_PID", listen_pid != NULL ? listen_pid : buf, 1) < 0 ||
	    setenv("LISTEN_FDS", "2", 1) < 0 || setenv("LISTEN_FDNAMES", names, 1) < 0)
		return -1;
	return 0;
}

static int
listen_with_names(void)
{
	struct activation_fd *fds = NULL;
	int n;

	if (pass_fds(NULL, "relay:store/kept") < 0)
		return 1;
	n = activation_listen_fds(&fds);
	if (n != 2)
		return 2;
	if (fds[0].fd != 3 || strcmp(fds[0].name, "relay") != 0 || fds[0].stored)
		return 3;
	if (fds[1].fd != 4 || strcmp(fds[1].name, "kept") != 0 || !fds[1].stored)
		return 4;
	if (!(fcntl(3, F_GETFD) & FD_CLOEXEC) || !(fcntl(4, F_GETFD) & FD_CLOEXEC))
		return 5;
	/* Nothing this process starts sees them. */
	if (getenv("LISTEN_PID") != NULL || getenv("LISTEN_FDS") != NULL ||
	    getenv("LISTEN_FDNAMES") != NULL)
		return 6;
	/* Not owned by anything: closed when the unused ones are. */
	activation_fds_free(fds, (size_t)n, true);
	if (fcntl(3, F_GETFD) >= 0 || fcntl(4, F_GETFD) >= 0)
		return 7;
	return 0;
}

static int
listen_pid_of_another_process(void)
{
	struct activation_fd *fds = NULL;

	if (pass_fds("1", "a:b") < 0)
		return 1;
	if (activation_listen_fds(&fds) != 0 || fds != NULL)
		return 2;
	if (getenv("LISTEN_FDS") != NULL)
		return 3;
	/* The fds are left alone. */
	if (fcntl(3, F_GETFD) < 0 || fcntl(4, F_GETFD) < 0)
		return 4;
	return 0;
}

START_TEST(test_listen_fds_with_names)
{
	ck_assert_int_eq(in_child(listen_with_names), 0);
}
END_TEST

START_TEST(test_listen_pid_of_another_process)
{
	ck_assert_int_eq(in_child(listen_pid_of_another_process), 0);
}
END_TEST

/* Receives one notification into buf; returns the fd attached, or -1. */
static int
recv_note(int s, char *buf, size_t size)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} ctrl;
	struct iovec iov = { buf, size - 1 };
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;
	ssize_t n;
	int fd = -1;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctrl.buf;
	mh.msg_controllen = sizeof(ctrl.buf);
	n = recvmsg(s, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

START_TEST(test_notify_and_fd_store)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/dgramd-test-XXXXXX", buf[256];
	struct stat a, b;
	int s, fd, got;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);

	/* Without NOTIFY_SOCKET nothing is sent. */
	ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
	ck_assert(!activation_has_notify());
	activation_notify("READY=1");
	ck_assert_int_lt(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 0);

	ck_assert_int_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
	ck_assert(activation_has_notify());
	activation_notify("READY=1\nSTATUS=%d sockets", 3);
	ck_assert_int_eq(recv_note(s, buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "READY=1\nSTATUS=3 sockets");

	activation_notify_reloading();
	ck_assert_int_eq(recv_note(s, buf, sizeof(buf)), -1);
	ck_assert_int_eq(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	ck_assert_int_gt(strtoull(buf + 27, NULL, 10), 0);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(activation_fdstore(fd, "relay"), 0);
	got = recv_note(s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "FDSTORE=1\nFDPOLL=0\nFDNAME=store/relay");
	/* The very socket, not a copy of its number. */
	ck_assert_int_ge(got, 0);
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(fstat(got, &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);

	activation_fdstore_remove("relay");
	ck_assert_int_eq(recv_note(s, buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "FDSTOREREMOVE=1\nFDNAME=store/relay");

	ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
	close(got);
	close(fd);
	close(s);
	unlink(sa.sun_path);
	rmdir(dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("activation");
	TCase *tc = tcase_create("activation");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_listen_fds_with_names);
	tcase_add_test(tc, test_listen_pid_of_another_process);
	tcase_add_test(tc, test_notify_and_fd_store);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
