/*
 * Unit tests for the SQLite store behind daemon/db.h. Every test gets a
 * fresh directory under /tmp and removes it afterwards.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "compat.h"
#include "db.h"
#include "log.h"
#include "util.h"

/*
 * A failed check ends the test's process before teardown runs, so the
 * per-test directories live in topdir, which main removes at the end.
 */
static char	 topdir[64];
static char	 tmpdir[96];
static char	 dbpath[128];

static void	 setup(void);
static void	 teardown(void);
static int	 rm_one(const char *, const struct stat *, int, struct FTW *);
static void	 rm_tree(const char *);
static struct db *open_ok(void);
static void	 set_ok(struct db *, const char *, const char *);
static void	 get_is(struct db *, const char *, const char *);
static void	 cb_add_ok(struct db *, const char *, const char *);
static void	 cb_add_fails(struct db *, const char *, const char *);
static void	 listen_set_ok(struct db *, char **, int);
static void	 listen_is(struct db *, char **, int);
static void	 write_garbage(const char *, size_t);
static void	 make_newer(const char *, int);
static Suite	*db_suite(void);

/* Make the per-test directory under topdir and the database path in it. */
static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/t.XXXXXX", topdir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/mmp.db", tmpdir);
}

/* Remove one entry of a test directory. */
static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

/* Remove dir and everything in it. */
static void
rm_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Remove the per-test directory. */
static void
teardown(void)
{
	rm_tree(tmpdir);
	tmpdir[0] = '\0';
}

/* Open dbpath, which must work. */
static struct db *
open_ok(void)
{
	struct db	*db;
	char		*cause = NULL;

	db = db_open(dbpath, &cause);
	ck_assert_msg(db != NULL, "db_open %s: %s", dbpath,
	    cause ? cause : "no cause");
	ck_assert_ptr_null(cause);
	return (db);
}

/* Set a configuration key, which must work. */
static void
set_ok(struct db *db, const char *key, const char *value)
{
	char	*cause = NULL;

	ck_assert_msg(db_config_set(db, key, value, &cause) == 0,
	    "set %s: %s", key, cause ? cause : "no cause");
	ck_assert_ptr_null(cause);
}

/* A configuration key holds want (NULL: unset). */
static void
get_is(struct db *db, const char *key, const char *want)
{
	char	*v;

	v = db_config_get(db, key);
	if (want == NULL)
		ck_assert_msg(v == NULL, "%s is '%s', want unset", key, v);
	else {
		ck_assert_msg(v != NULL, "%s unset, want '%s'", key, want);
		ck_assert_str_eq(v, want);
	}
	free(v);
}

/* Add a call bridge, which must work. */
static void
cb_add_ok(struct db *db, const char *name, const char *secret)
{
	char	*cause = NULL;

	ck_assert_msg(db_callbridge_add(db, name, secret, &cause) == 0,
	    "add %s: %s", name, cause ? cause : "no cause");
	ck_assert_ptr_null(cause);
}

/* Adding this call bridge must fail with a cause, and add nothing. */
static void
cb_add_fails(struct db *db, const char *name, const char *secret)
{
	char	*cause = NULL;
	int	 before;

	before = db_callbridge_count(db);
	ck_assert_msg(db_callbridge_add(db, name, secret, &cause) == -1,
	    "add '%.20s' (%zu) with secret of %zu accepted", name,
	    strlen(name), strlen(secret));
	ck_assert_ptr_nonnull(cause);
	ck_assert_int_gt(strlen(cause), 0);
	free(cause);
	ck_assert_int_eq(db_callbridge_count(db), before);
}

/* Replace the listen list in a transaction, which must work. */
static void
listen_set_ok(struct db *db, char **addrs, int n)
{
	char	*cause = NULL;

	ck_assert_int_eq(db_begin(db, &cause), 0);
	ck_assert_msg(db_listen_set(db, addrs, n, &cause) == 0,
	    "listen set: %s", cause ? cause : "no cause");
	ck_assert_int_eq(db_commit(db, &cause), 0);
	ck_assert_ptr_null(cause);
}

/* The listen list is exactly want[0..n), in order. */
static void
listen_is(struct db *db, char **want, int n)
{
	char	**addrs;
	int	  got, i;

	ck_assert_int_eq(db_listen_get(db, &addrs, &got), 0);
	ck_assert_int_eq(got, n);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(addrs[i], want[i]);
	util_free_argv(addrs, got);
}

/* Fill path with len bytes of noise that is not an SQLite header. */
static void
write_garbage(const char *path, size_t len)
{
	unsigned char	*buf;
	uint32_t	 x = 2463534242U;
	size_t		 i;
	int		 fd;

	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = x & 0xff;
	}
	ck_assert_int_ne(memcmp(buf, "SQLite format 3", 15), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
}

/* Create a database at path whose user_version is v, behind db.c's back. */
static void
make_newer(const char *path, int v)
{
	sqlite3	*sql = NULL;
	char	 pragma[64];

	ck_assert_int_eq(sqlite3_open(path, &sql), SQLITE_OK);
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", v);
	ck_assert_int_eq(sqlite3_exec(sql, "CREATE TABLE future (x)", NULL,
	    NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(sql, pragma, NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_close(sql), SQLITE_OK);
}

/* A missing file is created 0600, whatever the umask, at the schema. */
START_TEST(test_open_creates)
{
	struct db	*db;
	struct stat	 sb;
	char		 wal[sizeof(dbpath) + 8];
	mode_t		 old;

	ck_assert_int_eq(stat(dbpath, &sb), -1);
	old = umask(0);
	db = open_ok();
	umask(old);
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_msg(S_ISREG(sb.st_mode), "not a regular file");
	ck_assert_msg((sb.st_mode & 07777) == 0600, "mode %o",
	    (unsigned int)(sb.st_mode & 07777));
	ck_assert_int_eq(db_schema_version(db), DB_SCHEMA_VERSION);

	/* The write-ahead log holds the same secrets: it is 0600 too. */
	set_ok(db, DB_HOSTNAME, "node1");
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	if (stat(wal, &sb) == 0)
		ck_assert_msg((sb.st_mode & 07777) == 0600, "wal mode %o",
		    (unsigned int)(sb.st_mode & 07777));
	ck_assert_int_eq(db_callbridge_count(db), 0);
	db_close(db);
	db_close(NULL);
}
END_TEST

/* An existing file with a looser mode is brought to 0600. */
START_TEST(test_open_tightens)
{
	struct db	*db;
	struct stat	 sb;
	int		 fd;

	fd = open(dbpath, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fchmod(fd, 0644), 0);
	close(fd);
	db = open_ok();
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_msg((sb.st_mode & 07777) == 0600, "mode %o",
	    (unsigned int)(sb.st_mode & 07777));
	ck_assert_int_eq(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);
}
END_TEST

/* Closing and opening again keeps configuration, listen list and bridges. */
START_TEST(test_reopen_keeps)
{
	struct db		*db;
	struct db_callbridge	*cbs;
	char			*addrs[] = { "eth1", "127.0.0.1", "::1",
				    "10.0.0.2" };
	char			*cause = NULL;
	size_t			 n;

	db = open_ok();
	set_ok(db, DB_HOSTNAME, "node1");
	set_ok(db, DB_XMPP_DOMAIN, "example.com");
	set_ok(db, DB_XMPP_PORT_CLIENT, "5222");
	listen_set_ok(db, addrs, 4);
	ck_assert_int_eq(db_begin(db, &cause), 0);
	cb_add_ok(db, "cb2", "secret-two-22");
	cb_add_ok(db, "cb1", "secret-one-11");
	ck_assert_int_eq(db_commit(db, &cause), 0);
	db_close(db);

	db = open_ok();
	ck_assert_int_eq(db_schema_version(db), DB_SCHEMA_VERSION);
	get_is(db, DB_HOSTNAME, "node1");
	get_is(db, DB_XMPP_DOMAIN, "example.com");
	get_is(db, DB_XMPP_PORT_CLIENT, "5222");
	get_is(db, DB_XMPP_KEY, NULL);
	listen_is(db, addrs, 4);
	ck_assert_int_eq(db_callbridge_count(db), 2);
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(cbs[0].name, "cb1");
	ck_assert_str_eq(cbs[0].secret, "secret-one-11");
	ck_assert_str_eq(cbs[1].name, "cb2");
	ck_assert_str_eq(cbs[1].secret, "secret-two-22");
	db_callbridge_free(cbs, n);
	db_close(db);
}
END_TEST

/* db_check passes a good file and leaves it usable. */
START_TEST(test_check_good)
{
	struct db	*db;
	char		*cause = NULL;

	db = open_ok();
	set_ok(db, DB_HOSTNAME, "node1");
	cb_add_ok(db, "cb1", "12345678");
	db_close(db);
	ck_assert_msg(db_check(dbpath, &cause) == 0, "db_check: %s",
	    cause ? cause : "no cause");
	ck_assert_ptr_null(cause);
	db = open_ok();
	get_is(db, DB_HOSTNAME, "node1");
	db_close(db);
}
END_TEST

/* db_check and db_open refuse a file of random bytes. */
START_TEST(test_check_garbage)
{
	struct db	*db;
	char		*cause = NULL;

	write_garbage(dbpath, 8192);
	ck_assert_int_eq(db_check(dbpath, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_int_gt(strlen(cause), 0);
	free(cause);
	cause = NULL;
	db = db_open(dbpath, &cause);
	ck_assert_ptr_null(db);
	ck_assert_ptr_nonnull(cause);
	free(cause);
}
END_TEST

/* db_check of a missing file fails and does not create it. */
START_TEST(test_check_missing)
{
	struct stat	 sb;
	char		*cause = NULL;

	ck_assert_int_eq(db_check(dbpath, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	ck_assert_int_eq(stat(dbpath, &sb), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* A schema newer than this build is refused by db_open and db_check. */
START_TEST(test_open_newer)
{
	struct db	*db;
	char		*cause = NULL;

	make_newer(dbpath, 99);
	db = db_open(dbpath, &cause);
	ck_assert_ptr_null(db);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "99") != NULL, "cause: %s", cause);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(db_check(dbpath, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
}
END_TEST

/* A call bridge name is unique; the first one's secret stays. */
START_TEST(test_cb_duplicate)
{
	struct db		*db;
	struct db_callbridge	*cbs;
	char			*cause = NULL;
	size_t			 n;

	db = open_ok();
	cb_add_ok(db, "cb1", "first-secret");
	ck_assert_int_eq(db_callbridge_add(db, "cb1", "second-secret",
	    &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "cb1") != NULL, "cause: %s", cause);
	free(cause);
	ck_assert_int_eq(db_callbridge_count(db), 1);
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(cbs[0].secret, "first-secret");
	db_callbridge_free(cbs, n);
	db_close(db);
}
END_TEST

/* Secrets are 8 to 256 characters and names 1 to 64. */
START_TEST(test_cb_lengths)
{
	struct db	*db;
	char		 s[300], name[100];

	db = open_ok();
	memset(s, 's', sizeof(s));
	memset(name, 'n', sizeof(name));

	s[7] = '\0';
	cb_add_fails(db, "short", s);
	s[7] = 's';
	s[8] = '\0';
	cb_add_ok(db, "eight", s);
	s[8] = 's';
	s[256] = '\0';
	cb_add_ok(db, "max", s);
	s[256] = 's';
	s[257] = '\0';
	cb_add_fails(db, "toolong", s);
	cb_add_fails(db, "empty", "");

	s[20] = '\0';
	name[64] = '\0';
	cb_add_ok(db, name, s);
	name[64] = 'n';
	name[65] = '\0';
	cb_add_fails(db, name, s);
	cb_add_fails(db, "", s);
	ck_assert_int_eq(db_callbridge_count(db), 3);
	db_close(db);
}
END_TEST

/* Deleting a call bridge that is not there fails with a cause. */
START_TEST(test_cb_del)
{
	struct db	*db;
	char		*cause = NULL;

	db = open_ok();
	ck_assert_int_eq(db_callbridge_del(db, "nope", &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "nope") != NULL, "cause: %s", cause);
	free(cause);
	cause = NULL;

	cb_add_ok(db, "cb1", "12345678");
	cb_add_ok(db, "cb2", "12345678");
	ck_assert_int_eq(db_callbridge_del(db, "cb1", &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(db_callbridge_count(db), 1);
	ck_assert_int_eq(db_callbridge_del(db, "cb1", &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	ck_assert_int_eq(db_callbridge_count(db), 1);
	db_close(db);
}
END_TEST

/* The call bridge list comes back ordered by name. */
START_TEST(test_cb_list_order)
{
	struct db		*db;
	struct db_callbridge	*cbs;
	const char		*in[] = { "zeta", "cb1", "alpha", "mid",
				    "beta" };
	const char		*want[] = { "alpha", "beta", "cb1", "mid",
				    "zeta" };
	char			 secret[32];
	size_t			 i, n;

	db = open_ok();
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n), 0);
	ck_assert_uint_eq(n, 0);
	db_callbridge_free(cbs, n);

	for (i = 0; i < nitems(in); i++) {
		snprintf(secret, sizeof(secret), "secret-of-%s", in[i]);
		cb_add_ok(db, in[i], secret);
	}
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n), 0);
	ck_assert_uint_eq(n, nitems(want));
	for (i = 0; i < n; i++) {
		snprintf(secret, sizeof(secret), "secret-of-%s", want[i]);
		ck_assert_str_eq(cbs[i].name, want[i]);
		ck_assert_str_eq(cbs[i].secret, secret);
	}
	db_callbridge_free(cbs, n);
	ck_assert_int_eq(db_callbridge_count(db), (int)nitems(want));
	db_close(db);
}
END_TEST

/* Setting a key to NULL deletes it; setting it again replaces it. */
START_TEST(test_config_set)
{
	struct db	*db;

	db = open_ok();
	get_is(db, DB_XMPP_DOMAIN, NULL);
	set_ok(db, DB_XMPP_DOMAIN, "example.com");
	get_is(db, DB_XMPP_DOMAIN, "example.com");
	set_ok(db, DB_XMPP_DOMAIN, "example.org");
	get_is(db, DB_XMPP_DOMAIN, "example.org");
	set_ok(db, DB_XMPP_DOMAIN, NULL);
	get_is(db, DB_XMPP_DOMAIN, NULL);
	/* Deleting a key that is not there is not an error. */
	set_ok(db, DB_XMPP_DOMAIN, NULL);
	set_ok(db, DB_XMPP_BUNDLE, "");
	get_is(db, DB_XMPP_BUNDLE, "");
	db_close(db);

	db = open_ok();
	get_is(db, DB_XMPP_DOMAIN, NULL);
	get_is(db, DB_XMPP_BUNDLE, "");
	db_close(db);
}
END_TEST

/* The listen list keeps its order, is replaced whole and has no repeats. */
START_TEST(test_listen)
{
	struct db	*db;
	char		*three[] = { "eth0", "::1", "127.0.0.1" };
	char		*one[] = { "10.1.2.3" };
	char		*dup[] = { "eth0", "eth1", "eth0" };
	char		*cause = NULL;

	db = open_ok();
	listen_is(db, NULL, 0);
	listen_set_ok(db, three, 3);
	listen_is(db, three, 3);
	listen_set_ok(db, one, 1);
	listen_is(db, one, 1);

	ck_assert_int_eq(db_begin(db, &cause), 0);
	ck_assert_int_eq(db_listen_set(db, dup, 3, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "eth0") != NULL, "cause: %s", cause);
	free(cause);
	db_rollback(db);
	listen_is(db, one, 1);

	listen_set_ok(db, NULL, 0);
	listen_is(db, NULL, 0);
	db_close(db);
}
END_TEST

/* xmpp reset clears xmpp.* keys, listen and bridges; the hostname stays. */
START_TEST(test_xmpp_reset)
{
	struct db	*db;
	char		*addrs[] = { "eth0", "::1" };
	char		*cause = NULL;

	db = open_ok();
	set_ok(db, DB_HOSTNAME, "node1");
	set_ok(db, DB_XMPP_ENABLED, "1");
	set_ok(db, DB_XMPP_DOMAIN, "example.com");
	set_ok(db, DB_XMPP_PORT_CLIENT, "5222");
	set_ok(db, DB_XMPP_PORT_COMPONENT, "5223");
	set_ok(db, DB_XMPP_KEY, "xmpp.key");
	set_ok(db, DB_XMPP_CRT, "xmpp.crt");
	set_ok(db, DB_XMPP_BUNDLE, "ca.pem");
	set_ok(db, DB_XMPP_MAX_SESSIONS, "5");
	listen_set_ok(db, addrs, 2);
	cb_add_ok(db, "cb1", "12345678");
	cb_add_ok(db, "cb2", "87654321");

	ck_assert_msg(db_xmpp_reset(db, &cause) == 0, "reset: %s",
	    cause ? cause : "no cause");
	ck_assert_ptr_null(cause);

	get_is(db, DB_HOSTNAME, "node1");
	get_is(db, DB_XMPP_ENABLED, NULL);
	get_is(db, DB_XMPP_DOMAIN, NULL);
	get_is(db, DB_XMPP_PORT_CLIENT, NULL);
	get_is(db, DB_XMPP_PORT_COMPONENT, NULL);
	get_is(db, DB_XMPP_KEY, NULL);
	get_is(db, DB_XMPP_CRT, NULL);
	get_is(db, DB_XMPP_BUNDLE, NULL);
	get_is(db, DB_XMPP_MAX_SESSIONS, NULL);
	listen_is(db, NULL, 0);
	ck_assert_int_eq(db_callbridge_count(db), 0);
	db_close(db);

	/* And it is on disk. */
	db = open_ok();
	get_is(db, DB_HOSTNAME, "node1");
	get_is(db, DB_XMPP_DOMAIN, NULL);
	ck_assert_int_eq(db_callbridge_count(db), 0);
	db_close(db);
}
END_TEST

/* Rolling back discards every change since db_begin. */
START_TEST(test_rollback)
{
	struct db	*db;
	char		*addrs[] = { "eth0" }, *other[] = { "eth9" };
	char		*cause = NULL;

	db = open_ok();
	set_ok(db, DB_HOSTNAME, "before");
	listen_set_ok(db, addrs, 1);

	ck_assert_int_eq(db_begin(db, &cause), 0);
	ck_assert_ptr_null(cause);
	set_ok(db, DB_HOSTNAME, "after");
	set_ok(db, DB_XMPP_DOMAIN, "example.com");
	cb_add_ok(db, "cb1", "12345678");
	ck_assert_int_eq(db_listen_set(db, other, 1, &cause), 0);
	get_is(db, DB_HOSTNAME, "after");
	db_rollback(db);

	get_is(db, DB_HOSTNAME, "before");
	get_is(db, DB_XMPP_DOMAIN, NULL);
	ck_assert_int_eq(db_callbridge_count(db), 0);
	listen_is(db, addrs, 1);

	/* A rollback with no transaction open does nothing. */
	db_rollback(db);
	get_is(db, DB_HOSTNAME, "before");

	/* The same change committed is kept, across a reopen too. */
	ck_assert_int_eq(db_begin(db, &cause), 0);
	set_ok(db, DB_HOSTNAME, "after");
	ck_assert_int_eq(db_commit(db, &cause), 0);
	ck_assert_ptr_null(cause);
	db_close(db);
	db = open_ok();
	get_is(db, DB_HOSTNAME, "after");
	db_close(db);
}
END_TEST

/* The suite. */
static Suite *
db_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("db");

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_creates);
	tcase_add_test(tc, test_open_tightens);
	tcase_add_test(tc, test_reopen_keeps);
	tcase_add_test(tc, test_check_good);
	tcase_add_test(tc, test_check_garbage);
	tcase_add_test(tc, test_check_missing);
	tcase_add_test(tc, test_open_newer);
	suite_add_tcase(s, tc);

	tc = tcase_create("callbridge");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cb_duplicate);
	tcase_add_test(tc, test_cb_lengths);
	tcase_add_test(tc, test_cb_del);
	tcase_add_test(tc, test_cb_list_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_set);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_xmpp_reset);
	tcase_add_test(tc, test_rollback);
	suite_add_tcase(s, tc);

	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init("check_db", 1, 0);
	strlcpy(topdir, "/tmp/check_db.XXXXXX", sizeof(topdir));
	if (mkdtemp(topdir) == NULL) {
		perror("mkdtemp");
		return (EXIT_FAILURE);
	}
	sr = srunner_create(db_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rm_tree(topdir);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
