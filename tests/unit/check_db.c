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
#include "xmalloc.h"
#include "xmpp/sasl.h"
#include "unit.h"

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
static void	 user_ok(struct db *, const char *);
static void	 ros_set(struct db_roster *, const char *, const char *,
		    const char *);
static int	 ros_put(struct db *, const char *, const char *,
		    const char *, const char *, char **);
static void	 jids_are(struct db *, const char *, int, const char *);
static void	 sql_ok(const char *);
static void	 break_table(const char *, const char *);
static void	 cause_is_db(char *);
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
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n, NULL), 0);
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
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n, NULL), 0);
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
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
	db_callbridge_free(cbs, n);

	for (i = 0; i < nitems(in); i++) {
		snprintf(secret, sizeof(secret), "secret-of-%s", in[i]);
		cb_add_ok(db, in[i], secret);
	}
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n, NULL), 0);
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

/* Add an account with made-up SCRAM keys. */
static void
user_ok(struct db *db, const char *name)
{
	struct sasl_creds	 c1, c2;
	char			*cause = NULL;

	memset(&c1, 0, sizeof(c1));
	c1.hash = SASL_SHA1;
	c1.iterations = 4096;
	c1.keylen = 20;
	c2 = c1;
	c2.hash = SASL_SHA256;
	c2.keylen = 32;
	ck_assert_msg(db_user_add(db, name, &c1, &c2, &cause) == 0, "%s",
	    cause);
}

/* Point r at a roster item (subscription none, strings borrowed). */
static void
ros_set(struct db_roster *r, const char *jid, const char *name,
    const char *groups)
{
	memset(r, 0, sizeof(*r));
	r->jid = (char *)(uintptr_t)jid;
	r->name = (char *)(uintptr_t)name;
	r->subscription = (char *)(uintptr_t)"none";
	r->groups = (char *)(uintptr_t)groups;
}

/* db_roster_put of one item of owner's; its result, *cause as it set. */
static int
ros_put(struct db *db, const char *owner, const char *jid, const char *name,
    const char *groups, char **cause)
{
	struct db_roster	 r;

	ros_set(&r, jid, name, groups);
	*cause = NULL;
	return (db_roster_put(db, owner, &r, cause));
}

/* owner's contacts of kind which are the words of want. */
static void
jids_are(struct db *db, const char *owner, int which, const char *want)
{
	char	**jids, *got;
	int	  n, i;
	size_t	  len = 1;

	ck_assert_int_eq(db_roster_jids(db, owner, which, &jids, &n, NULL), 0);
	for (i = 0; i < n; i++)
		len += strlen(jids[i]) + 1;
	got = xcalloc(1, len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strlcat(got, " ", len);
		strlcat(got, jids[i], len);
	}
	ck_assert_str_eq(got, want);
	free(got);
	util_free_argv(jids, n);
}

/* One item's caps: JID, name and group bytes, groups, no empty group,
 * control character or duplicate. */
START_TEST(test_roster_check)
{
	static const char	*bad[] = { "\n", "a\n", "\na", "a\n\nb",
	    "a\tb", "a\x7f", "a\nb\na", "x\nx" };
	struct db_roster	 r;
	char			 big[DB_ROSTER_MAX_JID + 2], groups[1024];
	char			*cause;
	size_t			 i, off;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ros_set(&r, "bob@x", NULL, "");
	ck_assert_int_eq(db_roster_check(&r, &cause), 0);
	r.groups = NULL;
	ck_assert_int_eq(db_roster_check(&r, &cause), 0);
	/* JID */
	r.jid = big;
	ck_assert_int_eq(db_roster_check(&r, &cause), -1);
	free(cause);
	big[DB_ROSTER_MAX_JID] = '\0';
	ck_assert_int_eq(db_roster_check(&r, &cause), 0);
	r.jid = (char *)(uintptr_t)"";
	ck_assert_int_eq(db_roster_check(&r, &cause), -1);
	free(cause);
	r.jid = (char *)(uintptr_t)"bob@x";
	/* name */
	big[DB_ROSTER_MAX_NAME] = '\0';
	r.name = big;
	ck_assert_int_eq(db_roster_check(&r, &cause), 0);
	big[DB_ROSTER_MAX_NAME] = 'a';
	big[DB_ROSTER_MAX_NAME + 1] = '\0';
	ck_assert_int_eq(db_roster_check(&r, &cause), -1);
	ck_assert_str_eq(cause, "roster item: name longer than 1023 bytes");
	free(cause);
	r.name = NULL;
	/* one group */
	r.groups = big;
	ck_assert_int_eq(db_roster_check(&r, &cause), -1);
	free(cause);
	big[DB_ROSTER_MAX_GROUP] = '\0';
	ck_assert_int_eq(db_roster_check(&r, &cause), 0);
	/* groups */
	for (i = 0, off = 0; i < DB_ROSTER_MAX_GROUPS; i++)
		off += snprintf(groups + off, sizeof(groups) - off, "%sg%zu",
		    i ? "\n" : "", i);
	r.groups = groups;
	ck_assert_int_eq(db_roster_check(&r, &cause), 0);
	strlcat(groups, "\nmore", sizeof(groups));
	ck_assert_int_eq(db_roster_check(&r, &cause), -1);
	ck_assert_str_eq(cause, "roster item: more than 16 groups");
	free(cause);
	for (i = 0; i < nitems(bad); i++) {
		r.groups = (char *)(uintptr_t)bad[i];
		ck_assert_msg(db_roster_check(&r, &cause) == -1, "groups %zu",
		    i);
		free(cause);
	}
}
END_TEST

/*
 * db_roster_put keeps a roster within DB_ROSTER_MAX_ITEMS items and
 * DB_ROSTER_MAX_BYTES bytes; an item already there still changes.
 */
START_TEST(test_roster_caps)
{
	struct db		*db;
	struct db_roster	*list;
	char			 jid[32], name[DB_ROSTER_MAX_NAME + 1];
	char			 groups[DB_ROSTER_MAX_GROUPS *
				    (DB_ROSTER_MAX_GROUP + 1)];
	char			*cause;
	size_t			 n, i, bytes;
	int			 k;

	db = open_ok();
	user_ok(db, "alice");
	user_ok(db, "bob");
	ck_assert_int_eq(db_begin(db, &cause), 0);
	for (k = 0; k < DB_ROSTER_MAX_ITEMS; k++) {
		snprintf(jid, sizeof(jid), "c%04d@x", k);
		ck_assert_msg(ros_put(db, "alice", jid, "n", "g", &cause) == 0,
		    "item %d: %s", k, cause);
	}
	ck_assert_int_eq(db_commit(db, &cause), 0);
	ck_assert_int_eq(ros_put(db, "alice", "one@more", NULL, "", &cause),
	    -1);
	ck_assert_str_eq(cause, "roster full: 1000 items");
	free(cause);
	ck_assert_int_eq(ros_put(db, "alice", "c0000@x", "other", "", &cause),
	    0);
	ck_assert_int_eq(db_roster_get(db, "alice", &list, &n, NULL), 0);
	ck_assert_uint_eq(n, DB_ROSTER_MAX_ITEMS);
	ck_assert_str_eq(list[0].name, "other");
	db_roster_free(list, n);
	/* Another account's roster is its own. */
	ck_assert_int_eq(ros_put(db, "bob", "one@more", NULL, "", &cause), 0);

	/* Bytes: the fattest items allowed, until the roster is full. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(groups, 'g', sizeof(groups) - 1);
	groups[sizeof(groups) - 1] = '\0';
	for (i = 0; i < DB_ROSTER_MAX_GROUPS; i++) {
		groups[i * (DB_ROSTER_MAX_GROUP + 1)] = 'a' + i;
		if (i > 0)
			groups[i * (DB_ROSTER_MAX_GROUP + 1) - 1] = '\n';
	}
	for (k = 0;; k++) {
		snprintf(jid, sizeof(jid), "f%04d@x", k);
		if (ros_put(db, "bob", jid, name, groups, &cause) == -1)
			break;
	}
	ck_assert_str_eq(cause, "roster full: 262144 bytes");
	free(cause);
	ck_assert_int_gt(k, 0);
	ck_assert_int_eq(db_roster_get(db, "bob", &list, &n, NULL), 0);
	for (i = 0, bytes = 0; i < n; i++)
		bytes += db_roster_size(&list[i]);
	ck_assert_uint_le(bytes, DB_ROSTER_MAX_BYTES);
	ck_assert_uint_gt(bytes + db_roster_size(&list[0]),
	    DB_ROSTER_MAX_BYTES);
	db_roster_free(list, n);
	/* A small item no longer fits either; shrinking one always does. */
	ck_assert_int_eq(ros_put(db, "bob", "z@x", name, groups, &cause), -1);
	free(cause);
	ck_assert_int_eq(ros_put(db, "bob", "f0000@x", "n", "", &cause), 0);
	ck_assert_int_eq(ros_put(db, "bob", "f0001@x", name, "", &cause), 0);
	/* Refused items are not stored. */
	ck_assert_int_eq(ros_put(db, "bob", "bad@x", NULL, "a\na", &cause),
	    -1);
	free(cause);
	ck_assert_int_eq(db_roster_get(db, "bob", &list, &n, NULL), 0);
	for (i = 0; i < n; i++)
		ck_assert_str_ne(list[i].jid, "bad@x");
	db_roster_free(list, n);
	db_close(db);
}
END_TEST

/* A roster stored past the caps (before them) may change, not grow. */
START_TEST(test_roster_legacy)
{
	struct db	*db;
	sqlite3		*sql = NULL;
	char		*cause, longer[400];

	memset(longer, 'n', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	db = open_ok();
	user_ok(db, "alice");
	db_close(db);
	ck_assert_int_eq(sqlite3_open(dbpath, &sql), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(sql, "WITH RECURSIVE n(i) AS ("
	    "SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
	    "INSERT INTO roster (owner, jid, name) SELECT 'alice', "
	    "'c' || i || '@x', printf('%.300c', 'n') FROM n", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_close(sql), SQLITE_OK);
	db = open_ok();
	ck_assert_int_eq(ros_put(db, "alice", "new@x", NULL, "", &cause), -1);
	free(cause);
	ck_assert_int_eq(ros_put(db, "alice", "c7@x", "shorter", "g",
	    &cause), 0);
	ck_assert_int_eq(ros_put(db, "alice", "c8@x", longer, "", &cause),
	    -1);
	free(cause);
	db_close(db);
}
END_TEST

/* Presence reads only the JIDs it needs, by subscription state. */
START_TEST(test_roster_jids)
{
	struct db		*db;
	struct db_roster	 r;
	char			*cause = NULL;
	char			**jids;
	int			 n;
	static const struct {
		const char	*jid, *sub;
		int		 pending;
	} items[] = {
		{ "both@x", "both", 0 },
		{ "from@x", "from", 2 },
		{ "none@x", "none", 0 },
		{ "asked@x", "none", 1 },
		{ "to@x", "to", 0 },
	};
	size_t			 i;

	db = open_ok();
	user_ok(db, "alice");
	user_ok(db, "bob");
	for (i = 0; i < nitems(items); i++) {
		ros_set(&r, items[i].jid, "name", "group");
		r.subscription = (char *)(uintptr_t)items[i].sub;
		r.pending_in = items[i].pending;
		ck_assert_int_eq(db_roster_put(db, "alice", &r, &cause), 0);
	}
	jids_are(db, "alice", DB_ROSTER_FROM, "both@x from@x");
	jids_are(db, "alice", DB_ROSTER_TO, "both@x to@x");
	jids_are(db, "alice", DB_ROSTER_ASKED, "asked@x from@x");
	jids_are(db, "bob", DB_ROSTER_FROM, "");
	ck_assert_int_eq(db_roster_jids(db, "alice", 0, &jids, &n, NULL), -1);
	ck_assert_ptr_null(jids);
	db_close(db);
}
END_TEST

/*
 * Errors, not absence. A second connection replaces a table of the store
 * with a view of the same columns whose every value fails when SQLite
 * steps to it (abs() of the smallest integer: "integer overflow"), so the
 * store's own connection gets a real error from sqlite3_step, the way a
 * disk I/O error or a corrupt page would reach it.
 */

/* Run SQL on a connection of its own to dbpath, which must work. */
static void
sql_ok(const char *text)
{
	sqlite3	*sql = NULL;
	char	*err = NULL;

	ck_assert_int_eq(sqlite3_open(dbpath, &sql), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(sql, text, NULL, NULL, &err) == SQLITE_OK,
	    "%s: %s", text, err ? err : "?");
	ck_assert_int_eq(sqlite3_close(sql), SQLITE_OK);
}

/*
 * A write that fails when it steps (a trigger refuses it) is -1, with the
 * cause when the caller wants one and without one when it passes NULL.
 */
START_TEST(test_err_write_no_cause)
{
	struct db	*db;
	char		*cause = NULL;

	db = open_ok();
	sql_ok("CREATE TRIGGER refuse BEFORE INSERT ON config BEGIN "
	    "SELECT RAISE(ABORT, 'refused by the test'); END");
	ck_assert_int_eq(db_config_set(db, "hostname", "a", NULL), -1);
	ck_assert_int_eq(db_config_set(db, "hostname", "a", &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "refused by the test") != NULL,
	    "cause: %s", cause);
	free(cause);
	db_close(db);
}
END_TEST

/* Replace table with a view of columns cols whose rows all fail. */
static void
break_table(const char *table, const char *cols)
{
	char	*text, *list, *c, *p, *last;

	list = xstrdup(cols);
	text = NULL;
	for (p = list; (c = strtok_r(p, " ", &last)) != NULL; p = NULL) {
		xasprintf(&p, "%s%s%s AS %s", text ? text : "",
		    text ? ", " : "", "abs(-9223372036854775807 - 1)", c);
		free(text);
		text = p;
	}
	xasprintf(&p, "DROP TABLE %s; CREATE VIEW %s AS SELECT %s", table,
	    table, text);
	sql_ok(p);
	free(p);
	free(text);
	free(list);
}

/* A cause from a failed lookup names the database error; freed here. */
static void
cause_is_db(char *cause)
{
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strncmp(cause, "database error: ", 16) == 0 &&
	    strstr(cause, "integer overflow") != NULL, "cause: %s", cause);
	free(cause);
}

/* An account lookup that fails is an error, not "no such user". */
START_TEST(test_err_user)
{
	struct db		*db;
	struct sasl_creds	 c;
	char			*cause = NULL;

	db = open_ok();
	user_ok(db, "alice");
	ck_assert_int_eq(db_user_exists(db, "alice", NULL), 1);
	ck_assert_int_eq(db_user_exists(db, "bob", NULL), 0);
	ck_assert_int_eq(db_user_creds(db, "alice", SASL_SHA1, &c, NULL), 1);
	ck_assert_int_eq(db_user_creds(db, "bob", SASL_SHA1, &c, NULL), 0);
	break_table("user_scram", "localpart hash iterations salt stored_key "
	    "server_key");
	ck_assert_int_eq(db_user_creds(db, "alice", SASL_SHA1, &c, &cause),
	    -1);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_user_creds(db, "bob", SASL_SHA256, &c, &cause),
	    -1);
	cause_is_db(cause);
	cause = NULL;
	break_table("user", "localpart");
	ck_assert_int_eq(db_user_exists(db, "alice", &cause), -1);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_user_exists(db, "bob", &cause), -1);
	cause_is_db(cause);
	cause = NULL;
	/* A new password for an account we cannot look up: refused. */
	ck_assert_int_eq(db_user_set_creds(db, "alice", &c, &c, &cause), -1);
	cause_is_db(cause);
	db_close(db);
}
END_TEST

/* A user list that fails is an error and no list, not a short one. */
START_TEST(test_err_user_list)
{
	struct db	*db;
	char		**names, *cause = NULL;
	int		  n;

	db = open_ok();
	user_ok(db, "alice");
	user_ok(db, "bob");
	ck_assert_int_eq(db_user_list(db, &names, &n, NULL), 0);
	ck_assert_int_eq(n, 2);
	util_free_argv(names, n);
	break_table("user", "localpart");
	ck_assert_int_eq(db_user_list(db, &names, &n, &cause), -1);
	ck_assert_ptr_null(names);
	ck_assert_int_eq(n, 0);
	cause_is_db(cause);
	/* Dropped outright: the prepare fails, still an error. */
	sql_ok("DROP VIEW user");
	cause = NULL;
	ck_assert_int_eq(db_user_list(db, &names, &n, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "database error: no such table") ==
	    cause, "%s", cause);
	free(cause);
	db_close(db);
}
END_TEST

/* Call bridges: a lookup or the list that fails is an error. */
START_TEST(test_err_callbridge)
{
	struct db		*db;
	struct db_callbridge	*cbs, *cb;
	char			*cause = NULL;
	size_t			 n;

	db = open_ok();
	cb_add_ok(db, "cb1", "secret-1-secret");
	cb_add_ok(db, "cb2", "secret-2-secret");
	break_table("callbridge", "name secret created");
	ck_assert_int_eq(db_callbridge_list(db, &cbs, &n, &cause), -1);
	ck_assert_ptr_null(cbs);
	ck_assert_uint_eq(n, 0);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_callbridge_get(db, "cb1", &cb, &cause), -1);
	ck_assert_ptr_null(cb);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_callbridge_get(db, "nosuch", &cb, &cause), -1);
	cause_is_db(cause);
	/* Adding one we cannot check for a clash: refused. */
	cause = NULL;
	ck_assert_int_eq(db_callbridge_add(db, "cb3", "secret-3-secret",
	    &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	db_close(db);
}
END_TEST

/* Rosters: loading the roster, an item or the contacts is an error. */
START_TEST(test_err_roster)
{
	struct db		*db;
	struct db_roster	*list, r;
	char			**jids, *cause = NULL;
	size_t			 n;
	int			 k;

	db = open_ok();
	user_ok(db, "alice");
	ck_assert_int_eq(ros_put(db, "alice", "bob@x", "Bob", "", &cause), 0);
	ros_set(&r, "eve@x", NULL, "");
	ck_assert_int_eq(db_roster_fits(db, "alice", &r, NULL), 0);
	ck_assert_int_eq(db_roster_item(db, "alice", "bob@x", &r, NULL), 1);
	db_roster_clear(&r);
	ck_assert_int_eq(db_roster_item(db, "alice", "eve@x", &r, NULL), 0);
	break_table("roster", "owner jid name subscription ask pending_in "
	    "groups");
	ck_assert_int_eq(db_roster_get(db, "alice", &list, &n, &cause), -1);
	ck_assert_ptr_null(list);
	ck_assert_uint_eq(n, 0);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_roster_item(db, "alice", "bob@x", &r, &cause),
	    -1);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_roster_item(db, "alice", "eve@x", &r, &cause),
	    -1);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_roster_jids(db, "alice", DB_ROSTER_TO, &jids, &k,
	    &cause), -1);
	ck_assert_ptr_null(jids);
	cause_is_db(cause);
	/* Whether an item fits cannot be known: an error, not "full". */
	ros_set(&r, "eve@x", NULL, "");
	ck_assert_int_eq(db_roster_fits(db, "alice", &r, &cause), -1);
	cause_is_db(cause);
	ck_assert_int_eq(ros_put(db, "alice", "eve@x", NULL, "", &cause), -1);
	cause_is_db(cause);
	db_close(db);
}
END_TEST

/* Settings: a lookup that fails is an error, not "unset". */
START_TEST(test_err_config)
{
	struct db	*db;
	char		*v, *cause = NULL;

	db = open_ok();
	set_ok(db, DB_XMPP_DOMAIN, "example.com");
	ck_assert_int_eq(db_config_find(db, DB_XMPP_DOMAIN, &v, NULL), 1);
	ck_assert_str_eq(v, "example.com");
	free(v);
	ck_assert_int_eq(db_config_find(db, DB_HOSTNAME, &v, NULL), 0);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(db_syslog_get(db, &v, NULL), 0);
	break_table("config", "key value");
	ck_assert_int_eq(db_config_find(db, DB_XMPP_DOMAIN, &v, &cause), -1);
	ck_assert_ptr_null(v);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_config_find(db, DB_HOSTNAME, &v, &cause), -1);
	cause_is_db(cause);
	cause = NULL;
	ck_assert_int_eq(db_syslog_get(db, &v, &cause), -1);
	cause_is_db(cause);
	db_close(db);
}
END_TEST

/*
 * The listen list fails on its third row, after two good ones (the view
 * keeps the table's rowid order, so rows stream): an error, no list.
 */
START_TEST(test_err_listen_midway)
{
	struct db	*db;
	char		*addrs[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3" };
	char		**got;
	int		  n;

	db = open_ok();
	listen_set_ok(db, addrs, 3);
	sql_ok("ALTER TABLE listen RENAME TO listen_ok;"
	    "CREATE VIEW listen AS SELECT pos, CASE WHEN pos < 2 THEN addr "
	    "ELSE abs(-9223372036854775807 - 1) END AS addr FROM listen_ok");
	ck_assert_int_eq(db_listen_get(db, &got, &n), -1);
	ck_assert_ptr_null(got);
	ck_assert_int_eq(n, 0);
	db_close(db);
}
END_TEST

/* The suite. */
/*
 * Offline messages: numbered after the last when no id is given, or
 * stored (and replaced) under the id given; counted with their bytes;
 * listed in order above an id; removed up to an id, and with their
 * account (the foreign key cascades), or all at once.
 */
START_TEST(test_offline)
{
	struct db		*db;
	struct db_offline	*list;
	size_t			 k, bytes;
	char			*cause = NULL;
	int			 n;

	db = open_ok();
	user_ok(db, "alice");
	user_ok(db, "bob");
	ck_assert_int_eq(db_offline_put(db, "alice", 0, "<a1/>", &cause), 0);
	ck_assert_int_eq(db_offline_put(db, "alice", 0, "<a2/>", &cause), 0);
	ck_assert_int_eq(db_offline_put(db, "bob", 7, "<b7/>", &cause), 0);
	ck_assert_int_eq(db_offline_put(db, "bob", 7, "<b7'/>", &cause), 0);
	ck_assert_int_eq(db_offline_put(db, "bob", 0, "<b8/>", &cause), 0);
	ck_assert_int_eq(db_offline_put(db, "nobody", 0, "<x/>", &cause), -1);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(db_offline_count(db, "alice", &n, &bytes, &cause), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(bytes, 10);
	ck_assert_int_eq(db_offline_list(db, "bob", 0, &list, &k, &cause), 0);
	ck_assert_uint_eq(k, 2);
	ck_assert(list[0].id == 7 && strcmp(list[0].stanza, "<b7'/>") == 0);
	ck_assert(list[1].id == 8 && strcmp(list[1].stanza, "<b8/>") == 0);
	db_offline_free(list, k);
	ck_assert_int_eq(db_offline_list(db, "alice", 1, &list, &k, &cause), 0);
	ck_assert_uint_eq(k, 1);
	ck_assert_str_eq(list[0].stanza, "<a2/>");
	db_offline_free(list, k);
	ck_assert_int_eq(db_offline_del(db, "bob", 7, &cause), 0);
	ck_assert_int_eq(db_offline_count(db, "bob", &n, &bytes, &cause), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(db_user_del(db, "alice", &cause), 0);
	ck_assert_int_eq(db_offline_count(db, "alice", &n, &bytes, &cause), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(db_offline_clear(db, &cause), 0);
	ck_assert_int_eq(db_offline_count(db, "bob", &n, &bytes, &cause), 0);
	ck_assert_int_eq(n, 0);
	db_offline_free(NULL, 0);
	db_close(db);
}
END_TEST

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

	tc = tcase_create("roster");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roster_check);
	tcase_add_test(tc, test_roster_caps);
	tcase_add_test(tc, test_roster_legacy);
	tcase_add_test(tc, test_roster_jids);
	tcase_add_test(tc, test_offline);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_err_user);
	tcase_add_test(tc, test_err_user_list);
	tcase_add_test(tc, test_err_callbridge);
	tcase_add_test(tc, test_err_roster);
	tcase_add_test(tc, test_err_config);
	tcase_add_test(tc, test_err_listen_midway);
	tcase_add_test(tc, test_err_write_no_cause);
	suite_add_tcase(s, tc);

	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	int	 rc;

	log_init("check_db", 1, 0);
	strlcpy(topdir, "/tmp/check_db.XXXXXX", sizeof(topdir));
	if (mkdtemp(topdir) == NULL) {
		perror("mkdtemp");
		return (EXIT_FAILURE);
	}
	rc = unit_run(db_suite());
	rm_tree(topdir);
	return (rc);
}
