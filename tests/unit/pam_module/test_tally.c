/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The lockout tally (pam_faillock's files) and the signature counters.
 * Semantics with explicit times, then byte compatibility with Debian's
 * faillock(8): it must list what we record, and its --reset must clear
 * it for us.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mynaguard/login.h"
#include "oom.h"

/* Linux-PAM faillock.h, written here independently of tally.c. */
struct faillock_rec {
	char source[52];
	uint16_t reserved;
	uint16_t status;
	uint64_t time;
};

static char tmpdir[64], dir[128];

static int
setup(void **state)
{
	(void)state;
	memcpy(tmpdir, "/tmp/mg-tally.XXXXXX", 21);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	(void)snprintf(dir, sizeof(dir), "%s/faillock", tmpdir);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
state_is(const char *user, unsigned threshold, uint32_t unlock, uint64_t now,
    unsigned failures, bool locked, uint64_t until)
{
	struct pmod_lock_state st;

	memset(&st, 0x55, sizeof(st));
	assert_int_equal(pmod_tally_state(dir, user, threshold, unlock, now,
	    &st), 0);
	if (st.failures != failures || st.locked != locked ||
	    st.locked_until != until)
		fail_msg("%s at %llu: expected %u failures, %slocked until "
		    "%llu; got %u, %slocked until %llu", user,
		    (unsigned long long)now, failures, locked ? "" : "not ",
		    (unsigned long long)until, st.failures,
		    st.locked ? "" : "not ",
		    (unsigned long long)st.locked_until);
}

static void
rec(const char *user, uint64_t t)
{
	assert_int_equal(pmod_tally_record(dir, user, "/dev/pts/3",
	    PMOD_TALLY_SOURCE_TTY, t), 0);
}

static void
test_threshold_and_unlock(void **state)
{
	struct pmod_lock_state st;
	struct stat sb;
	char p[256];

	(void)state;
	/* No file (not even the directory): nothing counted. */
	state_is("alice", 3, 600, 1000, 0, false, 0);
	rec("alice", 1000);
	assert_int_equal(stat(dir, &sb), 0);	/* created 0755 */
	assert_int_equal(sb.st_mode & 07777, 0755);
	(void)snprintf(p, sizeof(p), "%s/alice", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_size, 64);
	rec("alice", 1010);
	state_is("alice", 3, 600, 1020, 2, false, 0);
	rec("alice", 1020);
	/* The third failure locks until 1020 + 600. */
	state_is("alice", 3, 600, 1021, 3, true, 1620);
	state_is("alice", 3, 600, 1619, 3, true, 1620);
	/* Failures during the lock count but do not extend it. */
	rec("alice", 1300);
	state_is("alice", 3, 600, 1301, 4, true, 1620);
	/* Automatic unlock: the failures before it no longer count. */
	state_is("alice", 3, 600, 1620, 0, false, 0);
	rec("alice", 1700);
	state_is("alice", 3, 600, 1701, 1, false, 0);
	rec("alice", 1710);
	rec("alice", 1720);
	state_is("alice", 3, 600, 1721, 3, true, 2320);
	assert_int_equal(pmod_tally_state(dir, "alice", 3, 600, 1721, &st), 0);
	assert_int_equal(st.last_failure, 1720);
	/* The same file with other settings. */
	state_is("alice", 10, 600, 1721, 7, false, 0);
	state_is("alice", 0, 600, 1721, 7, false, 0);	/* never locks */
	/* unlock_after_s == 0: locked until the administrator resets. */
	state_is("alice", 3, 0, 1721, 7, true, 0);
	state_is("alice", 3, 0, UINT64_C(4000000000), 7, true, 0);
	/* Reset: truncated, as faillock --reset does. */
	assert_int_equal(pmod_tally_reset(dir, "alice"), 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	state_is("alice", 3, 0, 1721, 0, false, 0);
	assert_int_equal(pmod_tally_state(dir, "alice", 3, 0, 1721, &st), 0);
	assert_int_equal(st.last_failure, 0);
	assert_int_equal(pmod_tally_reset(dir, "nobody-here"), 0);
}

static void
write_raw(const char *user, const struct faillock_rec *v, size_t n)
{
	char p[256];
	int fd;

	(void)mkdir(dir, 0755);
	(void)snprintf(p, sizeof(p), "%s/%s", dir, user);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, v, n * sizeof(*v)),
	    (ssize_t)(n * sizeof(*v)));
	close(fd);
}

/* Records written by pam_faillock: reused slots (out of time order),
 * invalidated entries, and a torn last record. */
static void
test_faillock_records(void **state)
{
	struct faillock_rec v[4];
	struct pmod_tally_entry *e = NULL;
	size_t n = 0;
	char p[256];

	(void)state;
	memset(v, 0, sizeof(v));
	v[0].time = 5020;
	v[0].status = 0x1 | 0x2;	/* VALID | RHOST */
	memcpy(v[0].source, "192.0.2.7", 9);
	v[1].time = 5000;
	v[1].status = 0x1;		/* VALID, service */
	memcpy(v[1].source, "sshd", 4);
	v[2].time = 4000;
	v[2].status = 0x4;		/* TTY, not VALID: cleared */
	v[3].time = 5010;
	v[3].status = 0x1 | 0x4;
	memset(v[3].source, 'x', 52);	/* 52 bytes, no NUL */
	write_raw("bob", v, 4);
	state_is("bob", 3, 60, 5021, 3, true, 5080);
	state_is("bob", 4, 60, 5021, 3, false, 0);
	/* Ours are appended to theirs. */
	rec("bob", 5030);
	state_is("bob", 4, 60, 5031, 4, true, 5090);
	assert_int_equal(pmod_tally_list(dir, "bob", &e, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(e[0].time, 4000);	/* in time order */
	assert_false(e[0].valid);
	assert_int_equal(e[0].source_kind, PMOD_TALLY_SOURCE_TTY);
	assert_int_equal(e[1].time, 5000);
	assert_int_equal(e[1].source_kind, PMOD_TALLY_SOURCE_SERVICE);
	assert_string_equal(e[1].source, "sshd");
	assert_int_equal(e[2].time, 5010);
	assert_int_equal(strlen(e[2].source), 52);
	assert_int_equal(e[3].source_kind, PMOD_TALLY_SOURCE_RHOST);
	assert_string_equal(e[3].source, "192.0.2.7");
	assert_true(e[4].valid);
	assert_string_equal(e[4].source, "/dev/pts/3");
	free(e);
	/* A torn record at the end is ignored. */
	(void)snprintf(p, sizeof(p), "%s/bob", dir);
	assert_int_equal(truncate(p, 5 * 64 - 10), 0);
	state_is("bob", 10, 60, 5031, 3, false, 0);
	/* Nothing listed for a user without a file. */
	e = (void *)1;
	assert_int_equal(pmod_tally_list(dir, "carol", &e, &n), 0);
	assert_null(e);
	assert_int_equal(n, 0);
}

static void
test_future_and_sources(void **state)
{
	struct pmod_tally_entry *e = NULL;
	size_t n = 0;

	(void)state;
	/* More than a minute ahead of now: ignored. */
	rec("carol", 10061);
	rec("carol", 10060);
	state_is("carol", 5, 60, 10000, 1, false, 0);
	state_is("carol", 5, 60, 10001, 2, false, 0);
	assert_int_equal(pmod_tally_record(dir, "dave", "198.51.100.1",
	    PMOD_TALLY_SOURCE_RHOST, 1), 0);
	assert_int_equal(pmod_tally_record(dir, "dave", NULL,
	    PMOD_TALLY_SOURCE_SERVICE, 2), 0);
	assert_int_equal(pmod_tally_record(dir, "dave", "evil\x1b[2J\xff",
	    PMOD_TALLY_SOURCE_RHOST, 3), 0);
	assert_int_equal(pmod_tally_record(dir, "dave", "x", 3, 4), -EINVAL);
	assert_int_equal(pmod_tally_record(dir, "dave", "x", -1, 4), -EINVAL);
	assert_int_equal(pmod_tally_list(dir, "dave", &e, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].source_kind, PMOD_TALLY_SOURCE_RHOST);
	assert_string_equal(e[0].source, "198.51.100.1");
	assert_int_equal(e[1].source_kind, PMOD_TALLY_SOURCE_SERVICE);
	assert_string_equal(e[1].source, "");
	assert_string_equal(e[2].source, "evil?[2J?");	/* made printable */
	free(e);
}

static void
test_cap(void **state)
{
	struct pmod_tally_entry *e = NULL;
	struct stat sb;
	char p[256];
	size_t n = 0;
	uint64_t t;

	(void)state;
	for (t = 1; t <= PMOD_TALLY_RECORDS_MAX + 6; t++)
		rec("erin", t);
	(void)snprintf(p, sizeof(p), "%s/erin", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, PMOD_TALLY_RECORDS_MAX * 64);
	assert_int_equal(pmod_tally_list(dir, "erin", &e, &n), 0);
	assert_int_equal(n, PMOD_TALLY_RECORDS_MAX);
	assert_int_equal(e[0].time, 7);		/* the oldest went */
	assert_int_equal(e[n - 1].time, PMOD_TALLY_RECORDS_MAX + 6);
	free(e);
	state_is("erin", 2000, 0, 5000, PMOD_TALLY_RECORDS_MAX, false, 0);
}

static void
test_user_names(void **state)
{
	static const char *const bad[] = { "", ".", "..", "a/b", "../etc",
		"/root", "a\nb", "tab\there", "del\x7f" };
	struct pmod_lock_state st;
	struct pmod_tally_entry *e = NULL;
	char longname[PMOD_USER_MAX + 2];
	size_t i, n = 0;
	DIR *d;

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (i = 0; i <= MG_ELEMENTSOF(bad); i++) {
		const char *u = i < MG_ELEMENTSOF(bad) ? bad[i] : longname;

		assert_int_equal(pmod_tally_record(dir, u, "x",
		    PMOD_TALLY_SOURCE_TTY, 1), -EINVAL);
		assert_int_equal(pmod_tally_state(dir, u, 3, 0, 1, &st),
		    -EINVAL);
		assert_int_equal(pmod_tally_reset(dir, u), -EINVAL);
		assert_int_equal(pmod_tally_list(dir, u, &e, &n), -EINVAL);
	}
	assert_int_equal(pmod_tally_record(dir, NULL, "x", 1, 1), -EINVAL);
	/* Refused before any path was made: not even the directory. */
	assert_null(d = opendir(dir));
	assert_int_equal(errno, ENOENT);
	/* 256 bytes pass our check but not the kernel's NAME_MAX (255). */
	longname[PMOD_USER_MAX] = '\0';
	assert_int_equal(pmod_tally_record(dir, longname, "x", 1, 1),
	    -ENAMETOOLONG);
	/* Names pam_faillock accepts and we do too. */
	longname[PMOD_USER_MAX - 1] = '\0';
	assert_int_equal(pmod_tally_record(dir, longname, "x", 1, 1), 0);
	assert_int_equal(pmod_tally_record(dir, "DOMAIN\\user name", "x", 1,
	    1), 0);
	assert_int_equal(pmod_tally_record(dir, "..hidden", "x", 1, 1), 0);
	/* Relative or missing directories. */
	assert_int_equal(pmod_tally_record("faillock", "alice", "x", 1, 1),
	    -EINVAL);
	assert_int_equal(pmod_tally_state(NULL, "alice", 3, 0, 1, &st),
	    -EINVAL);
	assert_int_equal(pmod_tally_state(dir, "alice", 3, 0, 1, NULL),
	    -EINVAL);
}

/* Run argv with stdout into buf; returns the exit status or -1. */
static int
run(char *const argv[], char *buf, size_t size)
{
	int fds[2], status = 0;
	size_t len = 0;
	ssize_t k;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)dup2(fds[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (len + 1 < size && (k = read(fds[0], buf + len,
	    size - len - 1)) > 0)
		len += (size_t)k;
	buf[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static size_t
count_lines_with(const char *out, const char *a, const char *b)
{
	const char *line = out, *nl;
	size_t n = 0;
	char tmp[512];

	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		(void)snprintf(tmp, sizeof(tmp), "%.*s", (int)(nl - line),
		    line);
		n += strstr(tmp, a) != NULL && strstr(tmp, b) != NULL;
		if (*nl == '\0')
			break;
	}
	return n;
}

/* Run faillock --dir dir --user user [--reset]; its output in out. */
static int
faillock(const char *tool, const char *user, bool reset, char *out,
    size_t size)
{
	char *argv[7] = { NULL };
	int r;

	argv[0] = strdup(tool);
	argv[1] = strdup("--dir");
	argv[2] = strdup(dir);
	argv[3] = strdup("--user");
	argv[4] = strdup(user);
	argv[5] = reset ? strdup("--reset") : NULL;
	r = run(argv, out, size);
	for (size_t i = 0; i < 6; i++)
		free(argv[i]);
	return r;
}

/* faillock(8) is the referee: it reads our records and resets them. */
static void
test_faillock_tool(void **state)
{
	static char out[8192];
	const char *tool = getenv("MG_FAILLOCK");
	struct stat sb;
	uint64_t now = (uint64_t)time(NULL);
	char p[256];

	(void)state;
	if (tool == NULL)
		tool = "/usr/sbin/faillock";
	if (access(tool, X_OK) != 0) {
		print_message("faillock(8) not found at %s (package "
		    "libpam-modules-bin): skipping the compatibility check\n",
		    tool);
		skip();
	}
	/* faillock --user needs an account that exists: nobody does. */
	assert_int_equal(pmod_tally_record(dir, "nobody", "/dev/pts/7",
	    PMOD_TALLY_SOURCE_TTY, now - 20), 0);
	assert_int_equal(pmod_tally_record(dir, "nobody", "203.0.113.9",
	    PMOD_TALLY_SOURCE_RHOST, now - 10), 0);
	assert_int_equal(pmod_tally_record(dir, "nobody", "login",
	    PMOD_TALLY_SOURCE_SERVICE, now), 0);
	assert_int_equal(faillock(tool, "nobody", false, out, sizeof(out)), 0);
	print_message("%s", out);
	assert_non_null(strstr(out, "nobody:"));
	assert_int_equal(count_lines_with(out, " TTY ", "/dev/pts/7"), 1);
	assert_int_equal(count_lines_with(out, " RHOST ", "203.0.113.9"), 1);
	assert_int_equal(count_lines_with(out, " SVC ", "login"), 1);
	assert_int_equal(count_lines_with(out, ":", " V"), 3);
	state_is("nobody", 3, 0, now, 3, true, 0);
	assert_int_equal(faillock(tool, "nobody", true, out, sizeof(out)), 0);
	state_is("nobody", 3, 0, now, 0, false, 0);
	/* faillock gave the file to nobody (0660), as pam_faillock does; we
	 * keep working with it. */
	(void)snprintf(p, sizeof(p), "%s/nobody", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	rec("nobody", now);
	state_is("nobody", 3, 0, now, 1, false, 0);
	assert_int_equal(faillock(tool, "nobody", false, out, sizeof(out)), 0);
	assert_int_equal(count_lines_with(out, " TTY ", "/dev/pts/3"), 1);
}

static void
test_oom(void **state)
{
	struct pmod_lock_state st;
	struct pmod_tally_entry *e = NULL;
	size_t i, n;
	int r;

	(void)state;
	rec("frank", 1);
	rec("frank", 2);
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pmod_tally_record(dir, "frank", "x", 1, 3);
		if (!oom_triggered())
			break;
		oom_fail_at(0);
		assert_int_equal(r, -ENOMEM);
	}
	oom_fail_at(0);
	assert_int_equal(r, 0);
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pmod_tally_state(dir, "frank", 3, 0, 4, &st);
		if (!oom_triggered())
			break;
		oom_fail_at(0);
		assert_int_equal(r, -ENOMEM);
	}
	oom_fail_at(0);
	assert_int_equal(r, 0);
	assert_int_equal(st.failures, 3);
	for (i = 1;; i++) {
		oom_fail_at(i);
		r = pmod_tally_list(dir, "frank", &e, &n);
		if (!oom_triggered())
			break;
		oom_fail_at(0);
		assert_int_equal(r, -ENOMEM);
	}
	oom_fail_at(0);
	assert_int_equal(r, 0);
	assert_int_equal(n, 3);
	free(e);
}

/* ---- signature counters ------------------------------------------------- */

static const char H1[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void
test_counter(void **state)
{
	char cdir[160], p[300], buf[32], shorth[65];
	struct stat sb;
	uint32_t v = 0;
	int fd;
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	(void)state;
	(void)snprintf(cdir, sizeof(cdir), "%s/counters", tmpdir);
	(void)snprintf(p, sizeof(p), "%s/%s", cdir, H1);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), -ENOENT);
	assert_int_equal(pmod_counter_set(cdir, H1, 5), 0);
	assert_int_equal(stat(cdir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(pmod_counter_set(cdir, H1, UINT32_MAX), 0);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "4294967295\n", 11);
	close(fd);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* No temporary file is left behind. */
	assert_non_null(d = opendir(cdir));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.' || de->d_name[1] == 'b';
	closedir(d);
	assert_int_equal(n, 1);
	/* Bad names. */
	assert_int_equal(pmod_counter_get(cdir, "BA7816BF8F01CFEA414140DE5DAE"
	    "2223B00361A396177A9CB410FF61F20015AD", &v), -EINVAL);
	memset(shorth, 0, sizeof(shorth));
	memcpy(shorth, "ba7816bf", 8);
	assert_int_equal(pmod_counter_get(cdir, shorth, &v), -EINVAL);
	assert_int_equal(pmod_counter_set(cdir, "../../../../../../etc/passw"
	    "d00000000000000000000000000000000000000", 1), -EINVAL);
	assert_int_equal(pmod_counter_set("counters", H1, 1), -EINVAL);
	assert_int_equal(pmod_counter_get(cdir, H1, NULL), -EINVAL);
	/* Unsafe or broken files. */
	assert_int_equal(chmod(p, 0620), 0);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), -EACCES);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(chown(p, 65534, 0), 0);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), -EACCES);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), -EACCES);
	assert_int_equal(unlink(p), 0);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "12x\n", 4), 4);
	close(fd);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), -EBADMSG);
	assert_int_equal(truncate(p, 0), 0);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), -EBADMSG);
	/* set replaces whatever was there. */
	assert_int_equal(pmod_counter_set(cdir, H1, 0), 0);
	assert_int_equal(pmod_counter_get(cdir, H1, &v), 0);
	assert_int_equal(v, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threshold_and_unlock,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_faillock_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_future_and_sources, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_faillock_tool, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
