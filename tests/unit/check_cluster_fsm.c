/*
 * Unit tests for the cluster's replicated state machine (fsm*.c):
 * entry and roster item encoding, apply, rosters, snapshot and restore,
 * the secret report and digest, and stale ids; then the same state
 * machine under libraft's simulated cluster (raft/fixture.h), which runs
 * on simulated time.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>
#include <raft/fixture.h>

#include "cluster/fsm.h"
#include "cfsm_helpers.h"
#include "compat.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define KEY		"000102030405060708090a0b0c0d0e0f"
#define DIG_A		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIG_B		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIG_C		"cccccccccccccccccccccccccccccccc"
#define IDENT_A		DIG_A DIG_A	/* 64 hex digits */
#define IDENT_B		DIG_B DIG_B

static void	 fill(struct cfsm *);
static void	 argv_is(char **, int, const char *);
static void	 users_are(struct cfsm *, const char *);
static void	 names_are(struct cfsm *, uint64_t, const char *);
static void	 jids_are(struct cfsm *, const char *, const char *);
static void	 ros_clear(struct db_roster *);
static void	 ros_round_trip(const struct db_roster *);
static char	*ros_item(const char *, const char *, int, int,
		    const char *);
static void	 fx_apply(struct cfsmt_fx *, char *);
static void	 off_put(void *, const char *, uint64_t, const char *);
static void	 off_del(void *, const char *, uint64_t);
static void	 off_reset(void *);
static Suite	*cfsm_suite(void);

/* Some of everything. */
static void
fill(struct cfsm *c)
{
	cfsmt_apply_entry(c, cfsm_enc_init("example.org", KEY));
	cfsmt_apply_entry(c, cfsm_enc_user_set("bob", "blob-b"));
	cfsmt_apply_entry(c, cfsm_enc_user_set("alice", "blob-a"));
	cfsmt_apply_entry(c, cfsm_enc_digest(7, "cb2", DIG_B));
	cfsmt_apply_entry(c, cfsm_enc_digest(7, "cb1", DIG_A));
	cfsmt_apply_entry(c, cfsm_enc_digest(9, "cb1", DIG_A));
}

/* argv holds the space-separated words of want; frees argv. */
static void
argv_is(char **argv, int argc, const char *want)
{
	char	 got[256];
	int	 i;

	got[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strlcat(got, " ", sizeof(got));
		strlcat(got, argv[i], sizeof(got));
	}
	ck_assert_ptr_null(argv[argc]);
	ck_assert_str_eq(got, want);
	util_free_argv(argv, argc);
}

/* The accounts are the words of want. */
static void
users_are(struct cfsm *c, const char *want)
{
	char	**argv;
	int	 argc;

	argv = cfsm_users(c, &argc);
	argv_is(argv, argc, want);
}

/* The call bridges with digests on node are the words of want. */
static void
names_are(struct cfsm *c, uint64_t node, const char *want)
{
	char	**argv;
	int	 argc;

	argv = cfsm_digest_names(c, node, &argc);
	argv_is(argv, argc, want);
}

/* owner's contacts in the state are the words of want. */
static void
jids_are(struct cfsm *c, const char *owner, const char *want)
{
	char	**argv;
	int	 argc;

	argv = cfsm_roster_jids(c, owner, &argc);
	argv_is(argv, argc, want);
}

/* Free what cfsm_roster_dec filled (db.c is not linked here). */
static void
ros_clear(struct db_roster *r)
{
	free(r->jid);
	free(r->name);
	free(r->subscription);
	free(r->groups);
	memset(r, 0, sizeof(*r));
}

/* r encodes to a log-safe item that decodes to r again. */
static void
ros_round_trip(const struct db_roster *r)
{
	struct db_roster	 back;
	char			*item, *again;

	item = cfsm_roster_enc(r);
	ck_assert_ptr_nonnull(item);
	ck_assert_ptr_null(strpbrk(item, "\t\r\n"));
	ck_assert_int_eq(cfsm_roster_dec(item, &back), 0);
	ck_assert_ptr_null(back.jid);
	if (r->name == NULL)
		ck_assert_ptr_null(back.name);
	else
		ck_assert_str_eq(back.name, r->name);
	ck_assert_str_eq(back.subscription, r->subscription);
	ck_assert_int_eq(back.ask, r->ask);
	ck_assert_int_eq(back.pending_in, r->pending_in);
	ck_assert_str_eq(back.groups, r->groups != NULL ? r->groups : "");
	/* One spelling per item. */
	again = cfsm_roster_enc(&back);
	ck_assert_str_eq(again, item);
	free(again);
	ros_clear(&back);
	free(item);
}

/* An encoded roster item (must encode). */
static char *
ros_item(const char *sub, const char *name, int ask, int pending,
    const char *groups)
{
	struct db_roster	 r;
	char			*item;

	memset(&r, 0, sizeof(r));
	r.subscription = (char *)(uintptr_t)sub;
	r.name = (char *)(uintptr_t)name;
	r.ask = ask;
	r.pending_in = pending;
	r.groups = (char *)(uintptr_t)groups;
	item = cfsm_roster_enc(&r);
	ck_assert_ptr_nonnull(item);
	return (item);
}

START_TEST(test_enc_exact)
{
	char	*s;

	s = cfsm_enc_init("example.org", KEY);
	ck_assert_str_eq(s, "init\texample.org\t" KEY);
	free(s);
	s = cfsm_enc_user_set("alice", "scram blob");
	ck_assert_str_eq(s, "user-set\talice\tscram blob");
	free(s);
	s = cfsm_enc_user_del("alice");
	ck_assert_str_eq(s, "user-del\talice");
	free(s);
	s = cfsm_enc_digest(18446744073709551615ULL, "cb1", DIG_A);
	ck_assert_str_eq(s, "digest-set\t18446744073709551615\tcb1\t" DIG_A);
	free(s);
	s = cfsm_enc_digest(3, "cb1", NULL);
	ck_assert_str_eq(s, "digest-del\t3\tcb1");
	free(s);
	s = cfsm_enc_forget(3);
	ck_assert_str_eq(s, "forget\t3");
	free(s);
	s = cfsm_enc_roster_set("alice", "bob@example.org", "both 0 0 - =");
	ck_assert_str_eq(s, "roster-set\talice\tbob@example.org\t"
	    "both 0 0 - =");
	free(s);
	s = cfsm_enc_roster_del("alice", "bob@example.org");
	ck_assert_str_eq(s, "roster-del\talice\tbob@example.org");
	free(s);
}
END_TEST

START_TEST(test_enc_reject)
{
	const char	*bad[] = { "", "a\tb", "a\nb", "a\rb", "\t", NULL };
	size_t		 i;

	for (i = 0; i < nitems(bad); i++) {
		ck_assert_ptr_null(cfsm_enc_init(bad[i], KEY));
		ck_assert_ptr_null(cfsm_enc_user_set(bad[i], "blob"));
		ck_assert_ptr_null(cfsm_enc_user_set("alice", bad[i]));
		ck_assert_ptr_null(cfsm_enc_user_del(bad[i]));
		ck_assert_ptr_null(cfsm_enc_digest(1, bad[i], DIG_A));
		ck_assert_ptr_null(cfsm_enc_digest(1, bad[i], NULL));
		if (bad[i] != NULL)
			ck_assert_ptr_null(cfsm_enc_digest(1, "cb", bad[i]));
	}
	ck_assert_ptr_null(cfsm_enc_init("example.org", NULL));
	ck_assert_ptr_null(cfsm_enc_init("example.org", ""));
	ck_assert_ptr_null(cfsm_enc_init("example.org", "abc"));
	ck_assert_ptr_null(cfsm_enc_init("example.org", "zz"));
	ck_assert_ptr_null(cfsm_enc_digest(1, "cb", "not hex!"));
	ck_assert_ptr_null(cfsm_enc_digest(0, "cb", DIG_A));
	ck_assert_ptr_null(cfsm_enc_digest(0, "cb", NULL));
	ck_assert_ptr_null(cfsm_enc_forget(0));
	for (i = 0; i < nitems(bad); i++) {
		ck_assert_ptr_null(cfsm_enc_roster_set(bad[i], "b@x",
		    "none 0 0 - ="));
		ck_assert_ptr_null(cfsm_enc_roster_set("alice", bad[i],
		    "none 0 0 - ="));
		ck_assert_ptr_null(cfsm_enc_roster_set("alice", "b@x",
		    bad[i]));
		ck_assert_ptr_null(cfsm_enc_roster_del(bad[i], "b@x"));
		ck_assert_ptr_null(cfsm_enc_roster_del("alice", bad[i]));
	}
	ck_assert_ptr_null(cfsm_enc_roster_set("alice", "b@x", "none"));
	ck_assert_ptr_null(cfsm_enc_roster_set("alice", "b@x",
	    "none 0 0 - =a b"));
}
END_TEST

START_TEST(test_roster_item)
{
	static const char *bad[] = {
		"",
		"none",
		"none 0 0 -",
		"none 0 0 - ",
		"none 0 0 - = ",
		"none 0 0 -  =",
		" none 0 0 - =",
		"none 0 0 - = x",
		"maybe 0 0 - =",
		"None 0 0 - =",
		"none 2 0 - =",
		"none 0 3 - =",
		"none 00 0 - =",
		"none -1 0 - =",
		"none 0 0 x =",
		"none 0 0 -x =",
		"none 0 0 - x",
		"none 0 0 - -",
		"none 0 0 =a%2 =",
		"none 0 0 =a%zz =",
		"none 0 0 =%c3%a9 =",		/* lowercase hex */
		"none 0 0 =%41 =",		/* A needs no escape */
		"none 0 0 =%00 =",
		"none 0 0 =a/b =",		/* / must be escaped */
		"none 0 0 = =a\tb",
		"none 0 0 = =a\nb",
		"none\t0 0 - =",
	};
	struct db_roster	 r;
	char			*s;
	size_t			 i;

	/* The exact spelling. */
	s = ros_item("none", NULL, 0, 0, "");
	ck_assert_str_eq(s, "none 0 0 - =");
	free(s);
	s = ros_item("both", "", 1, 2, NULL);
	ck_assert_str_eq(s, "both 1 2 = =");
	free(s);
	s = ros_item("to", "Bob Smith", 0, 1, "Friends\nWork");
	ck_assert_str_eq(s, "to 0 1 =Bob%20Smith =Friends%0AWork");
	free(s);
	s = ros_item("from", "a%b\t=-._~\xc3\xa9", 0, 0, "100%\r\n\x7f");
	ck_assert_str_eq(s, "from 0 0 =a%25b%09%3D-._~%C3%A9 "
	    "=100%25%0D%0A%7F");
	free(s);

	/* Round trips: NULL and empty names, groups of every kind. */
	memset(&r, 0, sizeof(r));
	r.subscription = (char *)(uintptr_t)"none";
	ros_round_trip(&r);
	r.groups = (char *)(uintptr_t)"";
	ros_round_trip(&r);
	r.name = (char *)(uintptr_t)"";
	ros_round_trip(&r);
	r.subscription = (char *)(uintptr_t)"both";
	r.ask = 1;
	r.pending_in = 2;
	r.name = (char *)(uintptr_t)"Ren\xc3\xa9" "e \"the boss\" <r@x> - 50%";
	r.groups = (char *)(uintptr_t)"Friends\nWork stuff\n"
	    "tab\there\ncr\rlf\n%41 \xe2\x98\x83\n\n=-";
	ros_round_trip(&r);
	r.subscription = (char *)(uintptr_t)"from";
	r.ask = 0;
	r.pending_in = 1;
	r.name = (char *)(uintptr_t)"-";
	r.groups = (char *)(uintptr_t)"=";
	ros_round_trip(&r);

	/* Decoded: name NULL or not, groups "" for none. */
	ck_assert_int_eq(cfsm_roster_dec("to 1 0 - =", &r), 0);
	ck_assert_ptr_null(r.name);
	ck_assert_str_eq(r.subscription, "to");
	ck_assert_int_eq(r.ask, 1);
	ck_assert_int_eq(r.pending_in, 0);
	ck_assert_str_eq(r.groups, "");
	ros_clear(&r);
	ck_assert_int_eq(cfsm_roster_dec("none 0 2 =- =a%0Ab", &r), 0);
	ck_assert_str_eq(r.name, "-");
	ck_assert_int_eq(r.pending_in, 2);
	ck_assert_str_eq(r.groups, "a\nb");
	ros_clear(&r);

	for (i = 0; i < nitems(bad); i++) {
		r.name = (char *)(uintptr_t)"left";
		ck_assert_msg(cfsm_roster_dec(bad[i], &r) == -1,
		    "decoded: \"%s\"", bad[i]);
		ck_assert_ptr_null(r.name);
		ck_assert_ptr_null(r.subscription);
		ck_assert_ptr_null(r.groups);
	}
	ck_assert_int_eq(cfsm_roster_dec(NULL, &r), -1);

	/* What no item may hold. */
	memset(&r, 0, sizeof(r));
	ck_assert_ptr_null(cfsm_roster_enc(NULL));
	ck_assert_ptr_null(cfsm_roster_enc(&r));
	r.subscription = (char *)(uintptr_t)"pending";
	ck_assert_ptr_null(cfsm_roster_enc(&r));
	r.subscription = (char *)(uintptr_t)"none";
	r.ask = 2;
	ck_assert_ptr_null(cfsm_roster_enc(&r));
	r.ask = -1;
	ck_assert_ptr_null(cfsm_roster_enc(&r));
	r.ask = 0;
	r.pending_in = 3;
	ck_assert_ptr_null(cfsm_roster_enc(&r));
	r.pending_in = -1;
	ck_assert_ptr_null(cfsm_roster_enc(&r));
}
END_TEST

START_TEST(test_apply_each)
{
	struct cfsm_rec	 r;
	struct cfsm	*c;
	char		**argv;

	c = cfsmt_new_rec(&r);
	ck_assert_ptr_null(cfsm_domain(c));
	ck_assert_ptr_null(cfsm_key(c));
	users_are(c, "");

	cfsmt_apply_entry(c, cfsm_enc_init("example.org", KEY));
	ck_assert_str_eq(cfsm_domain(c), "example.org");
	ck_assert_str_eq(cfsm_key(c), KEY);
	ck_assert_int_eq(r.changed, 1);

	cfsmt_apply_entry(c, cfsm_enc_user_set("bob", "b1"));
	cfsmt_apply_entry(c, cfsm_enc_user_set("alice", "a1"));
	cfsmt_apply_entry(c, cfsm_enc_user_set("bob", "b2"));
	ck_assert_str_eq(cfsm_user(c, "bob"), "b2");
	ck_assert_str_eq(cfsm_user(c, "alice"), "a1");
	ck_assert_ptr_null(cfsm_user(c, "carol"));
	users_are(c, "alice bob");
	ck_assert_int_eq(r.changed, 4);

	cfsmt_apply_entry(c, cfsm_enc_user_del("bob"));
	ck_assert_ptr_null(cfsm_user(c, "bob"));
	users_are(c, "alice");
	ck_assert_str_eq(r.log, "set bob=b1;set alice=a1;set bob=b2;del bob;");
	ck_assert_int_eq(r.changed, 5);

	cfsmt_apply_entry(c, cfsm_enc_digest(2, "cb2", DIG_A));
	cfsmt_apply_entry(c, cfsm_enc_digest(2, "cb1", DIG_B));
	cfsmt_apply_entry(c, cfsm_enc_digest(3, "cb1", DIG_B));
	ck_assert_str_eq(cfsm_digest(c, 2, "cb2"), DIG_A);
	ck_assert_ptr_null(cfsm_digest(c, 3, "cb2"));
	names_are(c, 2, "cb1 cb2");
	names_are(c, 4, "");
	cfsmt_apply_entry(c, cfsm_enc_digest(2, "cb2", DIG_C));
	ck_assert_str_eq(cfsm_digest(c, 2, "cb2"), DIG_C);
	cfsmt_apply_entry(c, cfsm_enc_digest(2, "cb2", NULL));
	ck_assert_ptr_null(cfsm_digest(c, 2, "cb2"));
	ck_assert_int_eq(r.changed, 10);

	cfsmt_apply_entry(c, cfsm_enc_forget(2));
	names_are(c, 2, "");
	names_are(c, 3, "cb1");
	ck_assert_int_eq(r.changed, 11);

	/* Nothing to change: no changed(); the sink still hears accounts. */
	cfsmt_apply_entry(c, cfsm_enc_forget(2));
	cfsmt_apply_entry(c, cfsm_enc_digest(3, "cb1", DIG_B));
	cfsmt_apply_entry(c, cfsm_enc_user_set("alice", "a1"));
	ck_assert_int_eq(r.changed, 11);
	ck_assert_int_eq(r.sets, 4);

	/* The count is optional. */
	argv = cfsm_users(c, NULL);
	ck_assert_str_eq(argv[0], "alice");
	ck_assert_ptr_null(argv[1]);
	util_free_argv(argv, 1);
	cfsm_free(c);
}
END_TEST

START_TEST(test_apply_init_once)
{
	struct cfsm_rec	 r;
	struct cfsm	*c;

	c = cfsmt_new_rec(&r);
	cfsmt_apply_str(c, "init\texample.org\t" KEY);
	cfsmt_apply_entry(c, cfsm_enc_init("example.net", "ffff"));
	cfsmt_apply_entry(c, cfsm_enc_init("example.org", "ffff"));
	ck_assert_str_eq(cfsm_domain(c), "example.org");
	ck_assert_str_eq(cfsm_key(c), KEY);
	ck_assert_int_eq(r.changed, 1);
	cfsm_free(c);
}
END_TEST

START_TEST(test_apply_malformed)
{
	static const char *bad[] = {
		"",
		"bogus",
		"bogus\tfrom\ta newer version",
		"user-set",
		"user-set\tbob",
		"user-set\tbob\tblob\textra",
		"user-set\t\tblob",
		"user-set\tbob\t",
		"user-set\tbob\tbl\rob",
		"user-del\t",
		"USER-DEL\talice",
		"user-del\talice\t",
		" user-del\talice",
		"init\texample.org",
		"init\texample.org\tabc",
		"init\texample.org\tnothex",
		"digest-set\t0\tcb1\t" DIG_A,
		"digest-set\t-1\tcb1\t" DIG_A,
		"digest-set\t+1\tcb1\t" DIG_A,
		"digest-set\t1x\tcb1\t" DIG_A,
		"digest-set\t18446744073709551616\tcb1\t" DIG_A,
		"digest-set\t1\tcb1\tnothex",
		"digest-set\t1\tcb1",
		"digest-del\t1",
		"forget\t",
		"forget\t0",
		"forget\t1\t2",
		"roster-set\talice\tbob@x",
		"roster-set\talice\tbob@x\t",
		"roster-set\talice\tbob@x\tnone 0 0 -",
		"roster-set\talice\tbob@x\tnone 0 0 - =%0a",
		"roster-set\talice\tbob@x\tboth 1 1 = =\textra",
		"roster-set\t\tbob@x\tnone 0 0 - =",
		"roster-del\talice",
		"roster-del\talice\t",
		"roster-del\talice\tbob@x\tnone 0 0 - =",
	};
	struct cfsm_rec	 r;
	struct cfsm	*c;
	char		*before, *after;
	size_t		 i;

	c = cfsmt_new_rec(&r);
	fill(c);
	memset(&r, 0, sizeof(r));
	before = cfsmt_snap_text(c);
	for (i = 0; i < nitems(bad); i++) {
		cfsmt_apply_raw(c, bad[i], strlen(bad[i]));
		cfsmt_apply_str(c, bad[i]);
	}
	cfsmt_apply_raw(c, "user-del\0alice", 14);
	cfsmt_apply_raw(c, "user-del\talice\0x", 16);
	cfsmt_apply_raw(c, "\0", 1);
	cfsmt_apply_raw(c, "", 0);
	cfsmt_apply_raw(c, "\xff\xfe\t\x01", 4);
	after = cfsmt_snap_text(c);
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(r.sets + r.dels + r.rsets + r.rdels + r.changed, 0);
	free(before);
	free(after);

	/* Trailing NULs (raft's 8-byte padding) are not malformed. */
	cfsmt_apply_raw(c, "user-del\talice", 15);
	ck_assert_ptr_null(cfsm_user(c, "alice"));
	cfsmt_apply_raw(c, "user-del\tbob\0\0\0", 16);
	ck_assert_ptr_null(cfsm_user(c, "bob"));
	cfsm_free(c);
}
END_TEST

START_TEST(test_apply_no_sink)
{
	struct cfsm_sink	 sink;
	struct cfsm		*c;

	c = cfsm_new(NULL);
	fill(c);
	cfsmt_apply_entry(c, cfsm_enc_user_del("bob"));
	ck_assert_ptr_null(cfsm_user(c, "bob"));
	cfsm_free(c);

	memset(&sink, 0, sizeof(sink));
	c = cfsm_new(&sink);
	fill(c);
	cfsmt_apply_entry(c, cfsm_enc_user_del("bob"));
	ck_assert_str_eq(cfsm_user(c, "alice"), "blob-a");
	cfsm_free(c);
	cfsm_free(NULL);
}
END_TEST

START_TEST(test_apply_roster)
{
	struct cfsm_rec	 r;
	struct cfsm	*c;
	char		*i1, *i2, *want;

	c = cfsmt_new_rec(&r);
	cfsmt_apply_entry(c, cfsm_enc_init("example.org", KEY));
	cfsmt_apply_entry(c, cfsm_enc_user_set("alice", "a1"));
	cfsmt_apply_entry(c, cfsm_enc_user_set("bob", "b1"));
	memset(&r, 0, sizeof(r));
	i1 = ros_item("none", NULL, 1, 0, "");
	i2 = ros_item("both", "Bob", 0, 0, "Friends\nWork");

	cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", "bob@example.org",
	    i1));
	cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", "carl@else.net", i1));
	cfsmt_apply_entry(c, cfsm_enc_roster_set("bob", "alice@example.org",
	    i1));
	ck_assert_str_eq(cfsm_roster(c, "alice", "bob@example.org"), i1);
	ck_assert_ptr_null(cfsm_roster(c, "alice", "dave@example.org"));
	ck_assert_ptr_null(cfsm_roster(c, "carl", "bob@example.org"));
	jids_are(c, "alice", "bob@example.org carl@else.net");
	jids_are(c, "bob", "alice@example.org");
	jids_are(c, "al", "");
	ck_assert_int_eq(r.rsets, 3);

	/* A new item replaces the old; the same again reaches the sink. */
	cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", "bob@example.org",
	    i2));
	ck_assert_str_eq(cfsm_roster(c, "alice", "bob@example.org"), i2);
	cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", "bob@example.org",
	    i2));
	ck_assert_int_eq(r.rsets, 5);

	cfsmt_apply_entry(c, cfsm_enc_roster_del("alice", "carl@else.net"));
	ck_assert_ptr_null(cfsm_roster(c, "alice", "carl@else.net"));
	jids_are(c, "alice", "bob@example.org");
	cfsmt_apply_entry(c, cfsm_enc_roster_del("alice", "carl@else.net"));
	ck_assert_int_eq(r.rdels, 2);

	/* No account, no roster: ignored, and the sink hears nothing. */
	cfsmt_apply_entry(c, cfsm_enc_roster_set("carl", "bob@example.org",
	    i1));
	ck_assert_ptr_null(cfsm_roster(c, "carl", "bob@example.org"));
	jids_are(c, "carl", "");
	ck_assert_int_eq(r.rsets, 5);

	/* Rosters are not what changed() is about. */
	ck_assert_int_eq(r.changed, 0);
	ck_assert_int_eq(r.sets + r.dels, 0);
	xasprintf(&want, "rset alice/bob@example.org=%s;"
	    "rset alice/carl@else.net=%s;rset bob/alice@example.org=%s;"
	    "rset alice/bob@example.org=%s;rset alice/bob@example.org=%s;"
	    "rdel alice/carl@else.net;rdel alice/carl@else.net;",
	    i1, i1, i1, i2, i2);
	ck_assert_str_eq(r.log, want);
	free(want);
	free(i1);
	free(i2);
	cfsm_free(c);
}
END_TEST

START_TEST(test_user_del_roster)
{
	struct cfsm_rec	 r;
	struct cfsm	*c;
	char		*it;

	c = cfsmt_new_rec(&r);
	it = ros_item("both", NULL, 0, 0, "");
	cfsmt_apply_entry(c, cfsm_enc_user_set("al", "x"));
	cfsmt_apply_entry(c, cfsm_enc_user_set("alice", "a1"));
	cfsmt_apply_entry(c, cfsm_enc_user_set("alicia", "a2"));
	cfsmt_apply_entry(c, cfsm_enc_roster_set("al", "z@x", it));
	cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", "bob@x", it));
	cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", "carl@x", it));
	cfsmt_apply_entry(c, cfsm_enc_roster_set("alicia", "a@x", it));
	memset(&r, 0, sizeof(r));

	/* The account goes with its roster, and only its own. */
	cfsmt_apply_entry(c, cfsm_enc_user_del("alice"));
	jids_are(c, "alice", "");
	jids_are(c, "al", "z@x");
	jids_are(c, "alicia", "a@x");
	ck_assert_str_eq(r.log, "del alice;");
	ck_assert_int_eq(r.changed, 1);

	/* The same name again starts with an empty roster. */
	cfsmt_apply_entry(c, cfsm_enc_user_set("alice", "a3"));
	jids_are(c, "alice", "");
	cfsmt_apply_entry(c, cfsm_enc_user_del("al"));
	cfsmt_apply_entry(c, cfsm_enc_user_del("alicia"));
	jids_are(c, "al", "");
	jids_are(c, "alicia", "");
	ck_assert_int_eq(r.rsets + r.rdels, 0);
	free(it);
	cfsm_free(c);
}
END_TEST

START_TEST(test_snapshot_roster)
{
	struct cfsm_rec		 r;
	struct cfsm		*a, *b;
	char			*i1, *i2, *sa, *sb, *want;

	i1 = ros_item("both", "Bob \"B\" Smith", 0, 0, "Friends\nWork\n%");
	i2 = ros_item("none", NULL, 1, 2, "");
	a = cfsm_new(NULL);
	fill(a);
	cfsmt_apply_entry(a, cfsm_enc_roster_set("bob", "alice@example.org",
	    i1));
	cfsmt_apply_entry(a, cfsm_enc_roster_set("alice", "bob@example.org",
	    i1));
	cfsmt_apply_entry(a, cfsm_enc_roster_set("alice", "eve@else.net", i2));

	sa = cfsmt_snap_text(a);
	xasprintf(&want, "cfsm 1\n"
	    "init\texample.org\t" KEY "\n"
	    "user-set\talice\tblob-a\n"
	    "user-set\tbob\tblob-b\n"
	    "digest-set\t7\tcb1\t" DIG_A "\n"
	    "digest-set\t7\tcb2\t" DIG_B "\n"
	    "digest-set\t9\tcb1\t" DIG_A "\n"
	    "roster-set\talice\tbob@example.org\t%s\n"
	    "roster-set\talice\teve@else.net\t%s\n"
	    "roster-set\tbob\talice@example.org\t%s\n", i1, i2, i1);
	ck_assert_str_eq(sa, want);
	free(want);
	free(sa);

	/*
	 * b has an item a lacks, one a changed, one of an account a lacks:
	 * the sink hears those removed, then every item of a.
	 */
	b = cfsmt_new_rec(&r);
	cfsmt_apply_entry(b, cfsm_enc_init("example.org", KEY));
	cfsmt_apply_entry(b, cfsm_enc_user_set("alice", "blob-a"));
	cfsmt_apply_entry(b, cfsm_enc_user_set("zed", "blob-z"));
	cfsmt_apply_entry(b, cfsm_enc_roster_set("alice", "bob@example.org",
	    i2));
	cfsmt_apply_entry(b, cfsm_enc_roster_set("alice", "carl@example.org",
	    i2));
	cfsmt_apply_entry(b, cfsm_enc_roster_set("zed", "alice@example.org",
	    i2));
	memset(&r, 0, sizeof(r));

	cfsmt_transfer(a, b);

	xasprintf(&want, "del zed;set alice=blob-a;set bob=blob-b;"
	    "rdel alice/carl@example.org;rdel zed/alice@example.org;"
	    "rset alice/bob@example.org=%s;rset alice/eve@else.net=%s;"
	    "rset bob/alice@example.org=%s;", i1, i2, i1);
	ck_assert_str_eq(r.log, want);
	free(want);
	ck_assert_int_eq(r.changed, 1);
	sa = cfsmt_snap_text(a);
	sb = cfsmt_snap_text(b);
	ck_assert_str_eq(sa, sb);
	ck_assert_str_eq(cfsm_roster(b, "alice", "bob@example.org"), i1);
	jids_are(b, "alice", "bob@example.org eve@else.net");
	jids_are(b, "zed", "");
	free(sa);
	free(sb);

	/* Restoring an empty state removes every item. */
	memset(&r, 0, sizeof(r));
	cfsm_free(a);
	a = cfsm_new(NULL);
	cfsmt_transfer(a, b);
	ck_assert_str_eq(r.log, "del alice;del bob;"
	    "rdel alice/bob@example.org;rdel alice/eve@else.net;"
	    "rdel bob/alice@example.org;");
	jids_are(b, "alice", "");
	free(i1);
	free(i2);
	cfsm_free(a);
	cfsm_free(b);
}
END_TEST

START_TEST(test_snapshot_format)
{
	struct cfsm	*c;
	char		*s;

	c = cfsm_new(NULL);
	s = cfsmt_snap_text(c);
	ck_assert_str_eq(s, "cfsm 1\n");
	free(s);
	fill(c);
	s = cfsmt_snap_text(c);
	ck_assert_str_eq(s, "cfsm 1\n"
	    "init\texample.org\t" KEY "\n"
	    "user-set\talice\tblob-a\n"
	    "user-set\tbob\tblob-b\n"
	    "digest-set\t7\tcb1\t" DIG_A "\n"
	    "digest-set\t7\tcb2\t" DIG_B "\n"
	    "digest-set\t9\tcb1\t" DIG_A "\n");
	free(s);
	cfsm_free(c);
}
END_TEST

START_TEST(test_snapshot_restore)
{
	struct cfsm_rec		 r;
	struct cfsm		*a, *b;
	char			*sa, *sb;

	a = cfsm_new(NULL);
	fill(a);
	b = cfsmt_new_rec(&r);
	cfsmt_apply_entry(b, cfsm_enc_init("other.org", "ffff"));
	cfsmt_apply_entry(b, cfsm_enc_user_set("zed", "blob-z"));
	cfsmt_apply_entry(b, cfsm_enc_user_set("alice", "old"));
	cfsmt_apply_entry(b, cfsm_enc_user_set("carl", "blob-c"));
	cfsmt_apply_entry(b, cfsm_enc_digest(5, "cb9", DIG_C));
	memset(&r, 0, sizeof(r));

	cfsmt_transfer(a, b);

	ck_assert_str_eq(r.log,
	    "del carl;del zed;set alice=blob-a;set bob=blob-b;");
	ck_assert_int_eq(r.changed, 1);
	sa = cfsmt_snap_text(a);
	sb = cfsmt_snap_text(b);
	ck_assert_str_eq(sa, sb);
	ck_assert_str_eq(cfsm_domain(b), "example.org");
	ck_assert_ptr_null(cfsm_digest(b, 5, "cb9"));
	free(sa);
	free(sb);
	cfsm_free(a);
	cfsm_free(b);
}
END_TEST

/* What a member may APPLY through the leader. */
START_TEST(test_entry_allowed)
{
	char	 why[200], *e;
	size_t	 i;
	struct {
		char	*entry;
		int	 ok;
	} t[] = {
		{ cfsm_enc_user_set("alice", "blob"), 0 },
		{ cfsm_enc_user_del("alice"), 0 },
		{ cfsm_enc_timers(100, 500), 0 },
		{ cfsm_enc_digest(7, "cb1", DIG_A), 0 },
		{ cfsm_enc_digest(7, "cb1", NULL), 0 },
		{ cfsm_enc_published(7), 0 },
		{ cfsm_enc_digest(8, "cb1", DIG_A), -1 },
		{ cfsm_enc_digest(8, "cb1", NULL), -1 },
		{ cfsm_enc_published(8), -1 },
		{ cfsm_enc_init("example.org", KEY), -1 },
		{ cfsm_enc_member(8, "10.0.0.8:5270", IDENT_A), -1 },
		{ cfsm_enc_member(7, "10.0.0.7:5270", IDENT_A), -1 },
		{ cfsm_enc_forget(8), -1 },
		{ cfsm_enc_revoke(IDENT_A), -1 },
		{ cfsm_enc_revoke_clear(), -1 },
		{ xstrdup("nonsense\tx"), -1 },
	};

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		e = t[i].entry;
		ck_assert_ptr_nonnull(e);
		ck_assert_msg(cfsm_entry_allowed(e, 7, why, sizeof(why)) ==
		    t[i].ok, "%s: %s", e, why);
		free(e);
	}
}
END_TEST

/* Removed identities: recorded, in snapshots, cleared at once. */
START_TEST(test_revoke)
{
	struct cfsm	*a, *b;
	char		*sa, *sb;

	a = cfsm_new(NULL);
	fill(a);
	sa = cfsmt_snap_text(a);
	ck_assert_ptr_null(strstr(sa, "cfsm 4"));
	free(sa);
	cfsmt_apply_entry(a, cfsm_enc_revoke(IDENT_A));
	cfsmt_apply_entry(a, cfsm_enc_revoke(IDENT_A));
	ck_assert_int_eq(cfsm_revoked(a, IDENT_A), 1);
	ck_assert_int_eq(cfsm_revoked(a, IDENT_B), 0);
	ck_assert_ptr_null(cfsm_enc_revoke("abc"));
	b = cfsm_new(NULL);
	cfsmt_transfer(a, b);
	ck_assert_int_eq(cfsm_revoked(b, IDENT_A), 1);
	sa = cfsmt_snap_text(a);
	sb = cfsmt_snap_text(b);
	ck_assert_str_eq(sa, sb);
	ck_assert_int_eq(strncmp(sa, "cfsm 4\n", 7), 0);
	free(sa);
	free(sb);
	cfsmt_apply_entry(b, cfsm_enc_revoke_clear());
	ck_assert_int_eq(cfsm_revoked(b, IDENT_A), 0);
	cfsm_free(a);
	cfsm_free(b);
}
END_TEST

START_TEST(test_restore_refused)
{
	static const char *bad[] = {
		"",
		"cfsm 2\n",
		"cfsm 1",
		"cfsm 1\nuser-del\talice\n",
		"cfsm 1\nforget\t7\n",
		"cfsm 1\nuser-set\talice\n",
		"cfsm 1\nuser-set\talice\tx\n\n",
		"cfsm 1\nbogus\n",
		"cfsm 1\ninit\ta.org\t" KEY "\ninit\tb.org\t" KEY "\n",
		"cfsm 1\r\nuser-set\talice\tx\n",
		"cfsm 1\nroster-set\talice\tbob@x\tnone 0 0 - =\n",
		"cfsm 1\nroster-set\talice\tbob@x\tnone 0 0 - =\n"
		    "user-set\talice\tx\n",
		"cfsm 1\nuser-set\talice\tx\n"
		    "roster-set\talice\tbob@x\tnone 0 0 -\n",
		"cfsm 1\nuser-set\talice\tx\nroster-del\talice\tbob@x\n",
	};
	struct cfsm_rec		 r;
	struct cfsm		*c;
	struct raft_fsm		*fsm;
	struct raft_buffer	 buf;
	char			*before, *after;
	size_t			 i;

	c = cfsmt_new_rec(&r);
	fill(c);
	memset(&r, 0, sizeof(r));
	fsm = cfsm_raft(c);
	before = cfsmt_snap_text(c);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_int_ne(cfsmt_restore(c, bad[i]), 0);
	after = cfsmt_snap_text(c);
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(r.sets + r.dels + r.rsets + r.rdels + r.changed, 0);
	free(before);
	free(after);

	/* A header alone is an empty state; a trailing NUL is fine. */
	buf.len = sizeof("cfsm 1\n");
	buf.base = raft_malloc(buf.len);
	memcpy(buf.base, "cfsm 1\n", buf.len);
	ck_assert_int_eq(fsm->restore(fsm, &buf), 0);
	ck_assert_ptr_null(cfsm_domain(c));
	ck_assert_str_eq(r.log, "del alice;del bob;");
	cfsm_free(c);
}
END_TEST

START_TEST(test_report)
{
	static const uint64_t ids[] = { 7, 8, 9 };
	static const char *names[] = {
		"127.0.0.1:5270", "127.0.0.2:5270", "127.0.0.3:5270"
	};
	struct cfsm	*c;
	char		*s;

	c = cfsm_new(NULL);
	s = cfsm_secret_report(c, ids, names, 3);
	ck_assert_str_eq(s, "consistent");
	free(s);

	/* Non-members' digests count for nothing. */
	cfsmt_apply_entry(c, cfsm_enc_digest(1, "cb0", DIG_A));
	cfsmt_apply_entry(c, cfsm_enc_digest(1, "cb1", DIG_C));
	cfsmt_apply_entry(c, cfsm_enc_digest(7, "cb1", DIG_A));
	cfsmt_apply_entry(c, cfsm_enc_digest(8, "cb1", DIG_A));
	cfsmt_apply_entry(c, cfsm_enc_digest(9, "cb1", DIG_A));
	s = cfsm_secret_report(c, ids, names, 3);
	ck_assert_str_eq(s, "consistent");
	free(s);

	/* The majority wins; one line per problem, in name order. */
	cfsmt_apply_entry(c, cfsm_enc_digest(9, "cb2", DIG_C));
	cfsmt_apply_entry(c, cfsm_enc_digest(8, "cb2", DIG_B));
	cfsmt_apply_entry(c, cfsm_enc_digest(7, "cb2", DIG_C));
	cfsmt_apply_entry(c, cfsm_enc_digest(7, "cb3", DIG_A));
	s = cfsm_secret_report(c, ids, names, 3);
	ck_assert_str_eq(s, "cb2: differs on 127.0.0.2:5270\n"
	    "cb3: missing on 127.0.0.2:5270, 127.0.0.3:5270");
	free(s);

	/* A tie: the lowest digest is the usual one. No names: ids. */
	cfsmt_apply_entry(c, cfsm_enc_digest(9, "cb2", DIG_A));
	cfsmt_apply_entry(c, cfsm_enc_digest(8, "cb3", DIG_B));
	s = cfsm_secret_report(c, ids, NULL, 3);
	ck_assert_str_eq(s, "cb2: differs on 7, 8\n"
	    "cb3: differs on 8\ncb3: missing on 9");
	free(s);

	/* Only the members given count. */
	s = cfsm_secret_report(c, ids, names, 1);
	ck_assert_str_eq(s, "consistent");
	free(s);
	s = cfsm_secret_report(c, ids, names, 0);
	ck_assert_str_eq(s, "consistent");
	free(s);
	cfsm_free(c);
}
END_TEST

START_TEST(test_secret_digest)
{
	char	*a, *b;

	/* HMAC-SHA256(KEY, "cb1\0s3cret"), first 16 bytes. */
	a = cfsm_secret_digest(KEY, "cb1", "s3cret");
	ck_assert_str_eq(a, "af44a9960274de831d35825f8109eb34");
	b = cfsm_secret_digest(KEY, "cb1", "s3cret");
	ck_assert_str_eq(a, b);
	free(b);
	ck_assert_ptr_null(strstr(a, "s3cret"));
	b = cfsm_secret_digest("00" KEY, "cb1", "s3cret");
	ck_assert_str_ne(a, b);
	free(b);
	b = cfsm_secret_digest(KEY, "cb2", "s3cret");
	ck_assert_str_ne(a, b);
	free(b);
	/* The NUL keeps name and secret apart. */
	b = cfsm_secret_digest(KEY, "cb1s", "3cret");
	ck_assert_str_ne(a, b);
	free(b);
	free(a);

	/* The digest is valid in an entry. */
	a = cfsm_secret_digest(KEY, "cb1", "");
	ck_assert_uint_eq(strlen(a), 32);
	b = cfsm_enc_digest(1, "cb1", a);
	ck_assert_ptr_nonnull(b);
	free(b);
	free(a);

	ck_assert_ptr_null(cfsm_secret_digest("xyz", "cb1", "s3cret"));
	ck_assert_ptr_null(cfsm_secret_digest("abc", "cb1", "s3cret"));
	ck_assert_ptr_null(cfsm_secret_digest("", "cb1", "s3cret"));
	ck_assert_ptr_null(cfsm_secret_digest(NULL, "cb1", "s3cret"));
}
END_TEST

START_TEST(test_stale_ids)
{
	struct raft_configuration	 conf;
	uint64_t			 out[4];

	raft_configuration_init(&conf);
	ck_assert_int_eq(raft_configuration_add(&conf, 11, "127.0.0.1:5270",
	    RAFT_VOTER), 0);
	ck_assert_int_eq(raft_configuration_add(&conf, 12, "127.0.0.2:5270",
	    RAFT_VOTER), 0);
	ck_assert_int_eq(raft_configuration_add(&conf, 13, "127.0.0.3:5270",
	    RAFT_SPARE), 0);

	ck_assert_int_eq(cfsm_stale_ids(&conf, 99, "127.0.0.2:5270", out, 4),
	    1);
	ck_assert_uint_eq(out[0], 12);
	ck_assert_int_eq(cfsm_stale_ids(&conf, 12, "127.0.0.2:5270", out, 4),
	    0);
	ck_assert_int_eq(cfsm_stale_ids(&conf, 99, "127.0.0.9:5270", out, 4),
	    0);
	ck_assert_int_eq(cfsm_stale_ids(&conf, 99, "127.0.0.2:5270", out, 0),
	    0);
	ck_assert_int_eq(cfsm_stale_ids(NULL, 99, "127.0.0.2:5270", out, 4),
	    0);
	raft_configuration_close(&conf);
}
END_TEST

/* Apply an encoded entry (freed) on the leader and wait for all to. */
static void
fx_apply(struct cfsmt_fx *x, char *s)
{
	struct raft_buffer	 buf;

	ck_assert_ptr_nonnull(s);
	buf.len = strlen(s) + 1;
	buf.base = raft_malloc(buf.len);
	memcpy(buf.base, s, buf.len);
	free(s);
	cfsmt_fx_apply_buf(x, &buf);
}

START_TEST(test_raft_replicate)
{
	struct cfsmt_fx		 x;
	unsigned	 old;
	int		 i, nw;

	cfsmt_fx_up(&x, 3);
	fx_apply(&x, cfsm_enc_init("example.org", KEY));
	fx_apply(&x, cfsm_enc_user_set("alice", "blob-a"));
	fx_apply(&x, cfsm_enc_user_set("bob", "blob-b"));
	fx_apply(&x, cfsm_enc_user_del("alice"));
	fx_apply(&x, cfsm_enc_digest(1, "cb1", DIG_A));
	fx_apply(&x, cfsm_enc_digest(2, "cb1", DIG_B));
	cfsmt_fx_agree(&x);
	for (i = 0; i < 3; i++) {
		ck_assert_str_eq(cfsm_domain(x.c[i]), "example.org");
		ck_assert_ptr_null(cfsm_user(x.c[i], "alice"));
		ck_assert_str_eq(cfsm_user(x.c[i], "bob"), "blob-b");
		ck_assert_str_eq(x.rec[i].log,
		    "set alice=blob-a;set bob=blob-b;del alice;");
	}
	fx_apply(&x, cfsm_enc_roster_set("bob", "carol@example.org",
	    "both 0 0 - =Friends"));
	fx_apply(&x, cfsm_enc_roster_set("bob", "dave@example.org",
	    "none 1 0 - ="));
	fx_apply(&x, cfsm_enc_roster_del("bob", "dave@example.org"));
	cfsmt_fx_agree(&x);

	/* The leader dies; the survivors elect another and carry on. */
	old = cfsmt_fx_leader(&x);
	raft_fixture_kill(&x.f, old);
	ck_assert(raft_fixture_step_until_has_no_leader(&x.f, CFSMT_FX_MSECS));
	ck_assert(raft_fixture_step_until_has_leader(&x.f, CFSMT_FX_MSECS));
	ck_assert_uint_ne(cfsmt_fx_leader(&x), old);
	fx_apply(&x, cfsm_enc_user_set("carol", "blob-c"));
	fx_apply(&x, cfsm_enc_digest(2, "cb1", DIG_A));
	fx_apply(&x, cfsm_enc_forget(old + 1));
	cfsmt_fx_agree(&x);
	ck_assert_str_eq(cfsm_user(x.c[cfsmt_fx_leader(&x)], "carol"), "blob-c");

	/* A fourth server joins and catches up from a snapshot. */
	nw = cfsmt_fx_grow(&x);
	ck_assert_int_eq(raft_start(raft_fixture_get(&x.f, nw)), 0);
	cfsmt_fx_add_voter(&x, nw + 1, "4");
	fx_apply(&x, cfsm_enc_user_set("dave", "blob-d"));
	ck_assert_uint_ge(raft_fixture_n_recv(&x.f, nw,
	    RAFT_INSTALL_SNAPSHOT), 1);
	cfsmt_fx_agree(&x);
	ck_assert_str_eq(cfsm_domain(x.c[nw]), "example.org");
	ck_assert_str_eq(cfsm_user(x.c[nw], "bob"), "blob-b");
	ck_assert_str_eq(cfsm_user(x.c[nw], "dave"), "blob-d");
	ck_assert_ptr_nonnull(strstr(x.rec[nw].log, "set carol=blob-c;"));
	ck_assert_str_eq(cfsm_roster(x.c[nw], "bob", "carol@example.org"),
	    "both 0 0 - =Friends");
	ck_assert_ptr_null(cfsm_roster(x.c[nw], "bob", "dave@example.org"));
	ck_assert_ptr_nonnull(strstr(x.rec[nw].log,
	    "rset bob/carol@example.org=both 0 0 - =Friends;"));
	cfsmt_fx_down(&x);
}
END_TEST

START_TEST(test_raft_stale_id)
{
	const struct raft_configuration	*conf;
	struct cfsmt_fx			 x;
	struct raft			*leader;
	struct cfsmt_req		 q;
	uint64_t			 stale[4];
	unsigned			 i, seen;
	int				 wiped, nw;

	cfsmt_fx_up(&x, 3);
	fx_apply(&x, cfsm_enc_init("example.org", KEY));
	fx_apply(&x, cfsm_enc_user_set("alice", "blob-a"));
	wiped = cfsmt_fx_grow(&x);
	ck_assert_int_eq(raft_start(raft_fixture_get(&x.f, wiped)), 0);
	cfsmt_fx_add_voter(&x, wiped + 1, "4");
	fx_apply(&x, cfsm_enc_user_set("bob", "blob-b"));
	cfsmt_fx_agree(&x);

	/* Server 4 is reset and comes back from "4" as server 5. */
	raft_fixture_kill(&x.f, wiped);
	nw = cfsmt_fx_grow(&x);
	ck_assert_int_eq(raft_start(raft_fixture_get(&x.f, nw)), 0);
	leader = raft_fixture_get(&x.f, cfsmt_fx_leader(&x));
	ck_assert_int_eq(cfsm_stale_ids(&leader->configuration, nw + 1, "4",
	    stale, 4), 1);
	ck_assert_uint_eq(stale[0], wiped + 1);

	memset(&q, 0, sizeof(q));
	q.u.change.data = &q;
	ck_assert_int_eq(raft_remove(leader, &q.u.change, stale[0],
	    cfsmt_fx_change_cb), 0);
	cfsmt_fx_wait(&x, &q);
	cfsmt_fx_add_voter(&x, nw + 1, "4");
	fx_apply(&x, cfsm_enc_user_set("carol", "blob-c"));
	cfsmt_fx_agree(&x);
	ck_assert_str_eq(cfsm_user(x.c[nw], "alice"), "blob-a");

	leader = raft_fixture_get(&x.f, cfsmt_fx_leader(&x));
	conf = &leader->configuration;
	ck_assert_uint_eq(conf->n, 4);
	for (seen = 0, i = 0; i < conf->n; i++) {
		ck_assert_uint_ne(conf->servers[i].id, wiped + 1);
		if (strcmp(conf->servers[i].address, "4") == 0) {
			ck_assert_uint_eq(conf->servers[i].id, nw + 1);
			ck_assert_int_eq(conf->servers[i].role, RAFT_VOTER);
			seen++;
		}
	}
	ck_assert_uint_eq(seen, 1);
	ck_assert_int_eq(cfsm_stale_ids(conf, nw + 1, "4", stale, 4), 0);
	cfsmt_fx_down(&x);
}
END_TEST

/*
 * The roster caps hold where a replicated item is applied, whatever a
 * member submits: items past the size caps of db.h do not decode, and a
 * roster-set that would add an item past DB_ROSTER_MAX_ITEMS is ignored
 * (the sink does not hear it); changing an item that is there still works.
 */
START_TEST(test_roster_caps)
{
	struct db_roster	 d;
	struct cfsm_rec		 r;
	struct cfsm		*c;
	char			 big[DB_ROSTER_MAX_JID + 2], jid[32], *it;
	char			*groups, *line;
	size_t			 i, off;
	int			 n;

	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* A name: DB_ROSTER_MAX_NAME bytes decode, one more does not. */
	big[DB_ROSTER_MAX_NAME] = '\0';
	it = ros_item("none", big, 0, 0, "");
	ck_assert_int_eq(cfsm_roster_dec(it, &d), 0);
	ros_clear(&d);
	free(it);
	big[DB_ROSTER_MAX_NAME] = 'n';
	big[DB_ROSTER_MAX_NAME + 1] = '\0';
	it = ros_item("none", big, 0, 0, "");
	ck_assert_int_eq(cfsm_roster_dec(it, &d), -1);
	free(it);
	/* A group likewise. */
	it = ros_item("none", NULL, 0, 0, big);
	ck_assert_int_eq(cfsm_roster_dec(it, &d), -1);
	free(it);
	big[DB_ROSTER_MAX_GROUP] = '\0';
	it = ros_item("none", NULL, 0, 0, big);
	ck_assert_int_eq(cfsm_roster_dec(it, &d), 0);
	ros_clear(&d);
	free(it);
	/* DB_ROSTER_MAX_GROUPS groups decode, one more does not. */
	groups = xcalloc(1, 4 * (DB_ROSTER_MAX_GROUPS + 1));
	for (i = 0, off = 0; i < DB_ROSTER_MAX_GROUPS; i++)
		off += snprintf(groups + off, 4, "%sg%c", i ? "\n" : "",
		    (int)('a' + i));
	it = ros_item("none", NULL, 0, 0, groups);
	ck_assert_int_eq(cfsm_roster_dec(it, &d), 0);
	ros_clear(&d);
	free(it);
	strlcat(groups, "\ngz", 4 * (DB_ROSTER_MAX_GROUPS + 1));
	it = ros_item("none", NULL, 0, 0, groups);
	ck_assert_int_eq(cfsm_roster_dec(it, &d), -1);
	free(it);
	free(groups);

	c = cfsmt_new_rec(&r);
	it = ros_item("none", NULL, 0, 0, "");
	cfsmt_apply_entry(c, cfsm_enc_user_set("alice", "a1"));
	/* A JID past DB_ROSTER_MAX_JID: the entry is bad, both ways. */
	memset(big, 'j', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_ptr_null(cfsm_enc_roster_set("alice", big, it));
	xasprintf(&line, "roster-set\talice\t%s\t%s", big, it);
	memset(&r, 0, sizeof(r));
	cfsmt_apply_str(c, line);
	free(line);
	ck_assert_int_eq(r.rsets, 0);
	ck_assert_ptr_null(cfsm_roster(c, "alice", big));
	/* Fill to the cap; one more is ignored. */
	for (n = 0; n <= DB_ROSTER_MAX_ITEMS; n++) {
		snprintf(jid, sizeof(jid), "c%04d@x", n);
		cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", jid, it));
	}
	ck_assert_int_eq(r.rsets, DB_ROSTER_MAX_ITEMS);
	util_free_argv(cfsm_roster_jids(c, "alice", &n), n);
	ck_assert_int_eq(n, DB_ROSTER_MAX_ITEMS);
	ck_assert_ptr_null(cfsm_roster(c, "alice", jid));
	/* An item that is there still changes; after a removal, room. */
	free(it);
	it = ros_item("both", NULL, 0, 0, "");
	cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", "c0000@x", it));
	ck_assert_str_eq(cfsm_roster(c, "alice", "c0000@x"), it);
	cfsmt_apply_entry(c, cfsm_enc_roster_del("alice", "c0001@x"));
	cfsmt_apply_entry(c, cfsm_enc_roster_set("alice", jid, it));
	ck_assert_ptr_nonnull(cfsm_roster(c, "alice", jid));
	free(it);
	cfsm_free(c);
}
END_TEST

/* All tests. */

/* What the offline sink heard, as "put o/id=stanza;del o/id;reset;". */
static char	 off_log[4096];

/* Offline sink: a message stored. */
static void
off_put(void *arg, const char *owner, uint64_t id, const char *stanza)
{
	char	 *s = cfsm_off_unesc(stanza);
	size_t	  len = strlen(off_log);

	(void)arg;
	ck_assert_ptr_nonnull(s);
	snprintf(off_log + len, sizeof(off_log) - len, "put %s/%llu=%s;",
	    owner, (unsigned long long)id, s);
	free(s);
}

/* Offline sink: messages removed. */
static void
off_del(void *arg, const char *owner, uint64_t id)
{
	size_t	 len = strlen(off_log);

	(void)arg;
	snprintf(off_log + len, sizeof(off_log) - len, "del %s/%llu;",
	    owner, (unsigned long long)id);
}

/* Offline sink: a restore starts over. */
static void
off_reset(void *arg)
{
	(void)arg;
	strlcat(off_log, "reset;", sizeof(off_log));
}

/*
 * offline-put and offline-del: the stanza escaped (tab, CR, LF, %) and
 * back exactly; malformed ones refused; ids given in log order across
 * accounts; the caps refuse (CFSM_R_REFUSED to the session), as does an
 * unknown account; offline-del up to an id; user-del drops them; a
 * snapshot carries them and the sequence, and a restore tells the sink.
 */
START_TEST(test_offline)
{
	static const char *bad[] = {
		"offline-put\talice",
		"offline-put\talice\t",
		"offline-put\talice\ta%b",
		"offline-put\talice\ta%2",
		"offline-put\talice\t%20",
		"offline-del\talice\t0",
		"offline-del\talice\t-1",
		"offline-del\talice\tx",
		"offline-del\talice\t99999999999999999999",
	};
	struct cfsm_sink sink;
	struct cfsm	*c, *d;
	const char	*odd = "<message>a\tb\r\nc 100% %25</message>";
	char		*e, *u, *snap, *big;
	size_t		 i;
	uint64_t	 serial = 0;

	/* The escape: exact both ways, no tab, CR or LF left. */
	e = cfsm_off_esc(odd);
	ck_assert_ptr_null(strpbrk(e, "\t\r\n"));
	u = cfsm_off_unesc(e);
	ck_assert_str_eq(u, odd);
	free(u);
	free(e);
	e = cfsm_enc_offline_put("alice", odd);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(strncmp(e, "offline-put\talice\t<message>a%09b%0D%0Ac"
	    " 100%25 %2525</message>", strlen(e)), 0);
	free(e);
	ck_assert_ptr_null(cfsm_enc_offline_put("alice", ""));
	ck_assert_ptr_null(cfsm_enc_offline_put(NULL, "x"));
	ck_assert_ptr_null(cfsm_enc_offline_del("alice", 0));
	e = cfsm_enc_offline_del("alice", 42);
	ck_assert_str_eq(e, "offline-del\talice\t42");
	free(e);
	ck_assert_ptr_null(cfsm_off_unesc("a%41"));

	memset(&sink, 0, sizeof(sink));
	sink.offline_put = off_put;
	sink.offline_del = off_del;
	sink.offline_reset = off_reset;
	off_log[0] = '\0';
	c = cfsm_new(&sink);
	cfsmt_apply_entry(c, cfsm_enc_init("example.org", KEY));
	cfsmt_apply_entry(c, cfsm_enc_user_set("alice", "a1"));
	cfsmt_apply_entry(c, cfsm_enc_user_set("bob", "b1"));
	for (i = 0; i < nitems(bad); i++)
		cfsmt_apply_str(c, bad[i]);
	ck_assert_str_eq(off_log, "");

	cfsmt_apply_entry(c, cfsm_enc_offline_put("alice", "<m>1</m>"));
	cfsmt_apply_entry(c, cfsm_enc_offline_put("bob", "<m>2</m>"));
	cfsmt_apply_entry(c, cfsm_enc_offline_put("alice", odd));
	cfsmt_apply_entry(c, cfsm_enc_offline_put("carol", "<m>no</m>"));
	ck_assert_str_eq(off_log, "put alice/1=<m>1</m>;put bob/2=<m>2</m>;"
	    "put alice/3=<message>a\tb\r\nc 100% %25</message>;");
	ck_assert_int_eq(cfsm_offline_count(c, "alice"), 2);
	ck_assert_int_eq(cfsm_offline_count(c, "bob"), 1);
	ck_assert_int_eq(cfsm_offline_count(c, "carol"), 0);

	/* The snapshot carries them; a restore resets the sink first. */
	snap = cfsmt_snap_text(c);
	ck_assert_int_eq(strncmp(snap, "cfsm 6\n", 7), 0);
	ck_assert_ptr_nonnull(strstr(snap, "\noffline-seq\t3\n"));
	ck_assert_ptr_nonnull(strstr(snap, "\noffline\talice\t3\t<message>"
	    "a%09b%0D%0Ac 100%25 %2525</message>\n"));
	off_log[0] = '\0';
	d = cfsm_new(&sink);
	ck_assert_int_eq(cfsmt_restore(d, snap), 0);
	ck_assert_str_eq(off_log, "reset;put alice/1=<m>1</m>;put alice/3="
	    "<message>a\tb\r\nc 100% %25</message>;put bob/2=<m>2</m>;");
	u = cfsmt_snap_text(d);
	ck_assert_str_eq(u, snap);
	free(u);
	/* The sequence goes on where it was. */
	off_log[0] = '\0';
	cfsmt_apply_entry(d, cfsm_enc_offline_put("bob", "<m>4</m>"));
	ck_assert_str_eq(off_log, "put bob/4=<m>4</m>;");
	cfsm_free(d);
	free(snap);

	/* Removal up to an id; user-del drops the rest. */
	off_log[0] = '\0';
	cfsmt_apply_entry(c, cfsm_enc_offline_del("alice", 1));
	ck_assert_int_eq(cfsm_offline_count(c, "alice"), 1);
	ck_assert_str_eq(off_log, "del alice/1;");
	cfsmt_apply_entry(c, cfsm_enc_user_del("alice"));
	ck_assert_int_eq(cfsm_offline_count(c, "alice"), 0);
	ck_assert_int_eq(cfsm_offline_count(c, "bob"), 1);

	/* The caps, in messages and in bytes: refused, the session told. */
	cfsmt_apply_entry(c, cfsm_enc_session(0x1122334455667788ULL));
	for (i = 1; i < DB_OFFLINE_MAX_MSGS; i++) {
		serial++;
		e = cfsm_enc_once(0x1122334455667788ULL, serial, serial,
		    "offline-put\tbob\t<m/>");
		cfsmt_apply_entry(c, e);
		ck_assert_int_eq(cfsm_session_result(c, 0x1122334455667788ULL,
		    serial), CFSM_R_APPLIED);
	}
	ck_assert_int_eq(cfsm_offline_count(c, "bob"), DB_OFFLINE_MAX_MSGS);
	serial++;
	e = cfsm_enc_once(0x1122334455667788ULL, serial, serial,
	    "offline-put\tbob\t<m/>");
	cfsmt_apply_entry(c, e);
	ck_assert_int_eq(cfsm_session_result(c, 0x1122334455667788ULL, serial),
	    CFSM_R_REFUSED);
	ck_assert_int_eq(cfsm_offline_count(c, "bob"), DB_OFFLINE_MAX_MSGS);
	cfsmt_apply_entry(c, cfsm_enc_offline_del("bob", UINT32_MAX));
	ck_assert_int_eq(cfsm_offline_count(c, "bob"), 0);
	big = xcalloc(1, DB_OFFLINE_MAX_BYTES / 2 + 1);
	memset(big, 'x', DB_OFFLINE_MAX_BYTES / 2);
	cfsmt_apply_entry(c, cfsm_enc_offline_put("bob", big));
	cfsmt_apply_entry(c, cfsm_enc_offline_put("bob", big));
	ck_assert_int_eq(cfsm_offline_count(c, "bob"), 2);
	cfsmt_apply_entry(c, cfsm_enc_offline_put("bob", "x"));
	ck_assert_int_eq(cfsm_offline_count(c, "bob"), 2);
	free(big);
	cfsm_free(c);
}
END_TEST

static Suite *
cfsm_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("cluster_fsm");

	tc = tcase_create("encode");
	tcase_add_test(tc, test_enc_exact);
	tcase_add_test(tc, test_enc_reject);
	tcase_add_test(tc, test_roster_item);
	tcase_add_test(tc, test_offline);
	suite_add_tcase(s, tc);

	tc = tcase_create("apply");
	tcase_add_test(tc, test_apply_each);
	tcase_add_test(tc, test_apply_init_once);
	tcase_add_test(tc, test_apply_malformed);
	tcase_add_test(tc, test_apply_no_sink);
	tcase_add_test(tc, test_apply_roster);
	tcase_add_test(tc, test_user_del_roster);
	tcase_add_test(tc, test_roster_caps);
	suite_add_tcase(s, tc);

	tc = tcase_create("snapshot");
	tcase_add_test(tc, test_snapshot_format);
	tcase_add_test(tc, test_snapshot_restore);
	tcase_add_test(tc, test_restore_refused);
	tcase_add_test(tc, test_revoke);
	tcase_add_test(tc, test_entry_allowed);
	tcase_add_test(tc, test_snapshot_roster);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_test(tc, test_report);
	tcase_add_test(tc, test_secret_digest);
	tcase_add_test(tc, test_stale_ids);
	suite_add_tcase(s, tc);

	tc = tcase_create("raft");
	tcase_add_test(tc, test_raft_replicate);
	tcase_add_test(tc, test_raft_stale_id);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	return (cfsmt_main("check_cluster_fsm", cfsm_suite()));
}
