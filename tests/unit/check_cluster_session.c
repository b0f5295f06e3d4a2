/*
 * Unit tests for the client sessions of the replicated state machine
 * (fsm_session.c, issue 12): a session's command is applied once however
 * often it reaches the log, never after a later command of the session
 * was answered, survives a snapshot and restore, and sessions expire
 * deterministically. The raft tests run the real state machine under
 * libraft's simulated cluster (raft/fixture.h).
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
#include "log.h"
#include "xmalloc.h"

#define KEY		"000102030405060708090a0b0c0d0e0f"
#define SID		0x1122334455667788ULL
#define SID2		0x0102030405060708ULL

static char	*once(uint64_t, uint64_t, uint64_t, char *);
static int	 count(const char *, const char *);
static void	 fx_apply(struct cfsmt_fx *, const char *);
static Suite	*session_suite(void);

/* entry (freed) as command serial of session sid with lo. */
static char *
once(uint64_t sid, uint64_t serial, uint64_t lo, char *entry)
{
	char	*s;

	ck_assert_ptr_nonnull(entry);
	s = cfsm_enc_once(sid, serial, lo, entry);
	ck_assert_ptr_nonnull(s);
	free(entry);
	return (s);
}

/* How often needle occurs in hay. */
static int
count(const char *hay, const char *needle)
{
	int	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return (n);
}

/* Put s into the log through the leader; wait until all applied it. */
static void
fx_apply(struct cfsmt_fx *x, const char *s)
{
	struct raft_buffer	 buf;

	buf.len = (strlen(s) + 8) & ~(size_t)7;
	buf.base = raft_calloc(1, buf.len);
	memcpy(buf.base, s, strlen(s));
	cfsmt_fx_apply_buf(x, &buf);
}

START_TEST(test_enc)
{
	char	*s;

	s = cfsm_enc_session(SID);
	ck_assert_str_eq(s, "session-open\t1122334455667788");
	free(s);
	ck_assert_ptr_null(cfsm_enc_session(0));
	s = cfsm_enc_once(SID, 7, 3, "user-del\tbob");
	ck_assert_str_eq(s, "@1122334455667788:7:3\tuser-del\tbob");
	free(s);
	ck_assert_ptr_null(cfsm_enc_once(0, 7, 3, "user-del\tbob"));
	ck_assert_ptr_null(cfsm_enc_once(SID, 0, 0, "user-del\tbob"));
	ck_assert_ptr_null(cfsm_enc_once(SID, 3, 7, "user-del\tbob"));
	ck_assert_ptr_null(cfsm_enc_once(SID, 7, 3, "@x:1:1\tuser-del\tbob"));
	ck_assert_ptr_null(cfsm_enc_once(SID, 7, 3, "user-del\tbob\nx"));
}
END_TEST

/* Malformed envelopes are skipped, counted nowhere, applied never. */
START_TEST(test_bad_envelopes)
{
	static const char *bad[] = {
		"@1122334455667788:1:1 user-del\tbob",
		"@1122334455667788:1\tuser-del\tbob",
		"@1122334455667788:1:1:1\tuser-del\tbob",
		"@112233445566778:1:1\tuser-del\tbob",
		"@0000000000000000:1:1\tuser-del\tbob",
		"@1122334455667788:0:0\tuser-del\tbob",
		"@1122334455667788:1:2\tuser-del\tbob",
		"@1122334455667788:x:1\tuser-del\tbob",
		"@1122334455667788:1:1\tsession-open\t1122334455667788",
		"@1122334455667788:1:1\t@1122334455667788:1:1\tuser-del\tbob",
		"session-open\t0000000000000000",
		"session-open\t11223344556677",
		"session-open\tABCDEF0011223344",
	};
	struct cfsm_rec	 rec;
	struct cfsm	*c;
	size_t		 i;

	c = cfsmt_new_rec(&rec);
	cfsmt_apply_entry(c, cfsm_enc_user_set("bob", "blob-b"));
	cfsmt_apply_entry(c, cfsm_enc_session(SID));
	for (i = 0; i < nitems(bad); i++)
		cfsmt_apply_padded(c, bad[i]);
	ck_assert_str_eq(cfsm_user(c, "bob"), "blob-b");
	ck_assert_int_eq(rec.dels, 0);
	cfsm_free(c);
}
END_TEST

/* A command is applied once; a copy gets its result, not a second go. */
START_TEST(test_apply_once)
{
	struct cfsm_rec	 rec;
	struct cfsm	*c;
	char		*e;

	c = cfsmt_new_rec(&rec);
	ck_assert(!cfsm_session_known(c, SID));
	cfsmt_apply_entry(c, cfsm_enc_session(SID));
	ck_assert(cfsm_session_known(c, SID));
	ck_assert_int_eq(cfsm_session_result(c, SID, 1), CFSM_R_PENDING);
	e = once(SID, 1, 1, cfsm_enc_user_set("alice", "blob-a"));
	cfsmt_apply_str(c, e);
	cfsmt_apply_str(c, e);
	cfsmt_apply_padded(c, e);
	free(e);
	ck_assert_int_eq(rec.sets, 1);
	ck_assert_int_eq(cfsm_session_result(c, SID, 1), CFSM_R_APPLIED);
	/* Opening it again changes nothing of it. */
	cfsmt_apply_entry(c, cfsm_enc_session(SID));
	ck_assert_int_eq(cfsm_session_result(c, SID, 1), CFSM_R_APPLIED);
	/* A bad command is "applied" once too: skipped, its result kept. */
	cfsmt_apply_padded(c, "@1122334455667788:2:1\tuser-set\tx");
	ck_assert_int_eq(cfsm_session_result(c, SID, 2), CFSM_R_BAD);
	/* An unknown session's command is not applied at all. */
	cfsmt_apply_entry(c, once(SID2, 1, 1, cfsm_enc_user_del("alice")));
	ck_assert_int_eq(rec.dels, 0);
	ck_assert_str_eq(cfsm_user(c, "alice"), "blob-a");
	ck_assert_int_eq(cfsm_session_result(c, SID2, 1), CFSM_R_NOSESSION);
	cfsm_free(c);
}
END_TEST

/*
 * A command whose answer was lost is sent again after a later one: not
 * applied again (it was), and one never applied before its submitter
 * moved lo past it is not applied late.
 */
START_TEST(test_no_resurrection)
{
	struct cfsm_rec	 rec;
	struct cfsm	*c;
	char		*set;

	c = cfsmt_new_rec(&rec);
	cfsmt_apply_entry(c, cfsm_enc_session(SID));
	set = once(SID, 1, 1, cfsm_enc_user_set("alice", "blob-a"));
	cfsmt_apply_str(c, set);
	cfsmt_apply_entry(c, once(SID, 2, 1, cfsm_enc_user_del("alice")));
	cfsmt_apply_str(c, set);
	free(set);
	ck_assert_ptr_null(cfsm_user(c, "alice"));
	ck_assert_str_eq(rec.log, "set alice=blob-a;del alice;");

	/* 3 failed, never applied; 4 says all below it are answered. */
	set = once(SID, 3, 3, cfsm_enc_user_set("carol", "blob-c"));
	cfsmt_apply_entry(c, once(SID, 4, 4, cfsm_enc_user_del("carol")));
	cfsmt_apply_str(c, set);
	free(set);
	ck_assert_ptr_null(cfsm_user(c, "carol"));
	ck_assert_int_eq(cfsm_session_result(c, SID, 3), CFSM_R_STALE);
	ck_assert_int_eq(cfsm_session_result(c, SID, 4), CFSM_R_APPLIED);
	/* Out of order within the window is fine: both applied. */
	cfsmt_apply_entry(c, once(SID, 6, 5, cfsm_enc_user_set("d", "b-d")));
	cfsmt_apply_entry(c, once(SID, 5, 5, cfsm_enc_user_set("e", "b-e")));
	ck_assert_str_eq(cfsm_user(c, "d"), "b-d");
	ck_assert_str_eq(cfsm_user(c, "e"), "b-e");
	cfsm_free(c);
}
END_TEST

/* At most CFSM_SESSION_WINDOW results: the lowest goes, lo passes it. */
START_TEST(test_window)
{
	struct cfsm	*c;
	uint64_t	 i;
	char		 name[32];

	c = cfsm_new(NULL);
	cfsmt_apply_entry(c, cfsm_enc_session(SID));
	for (i = 1; i <= CFSM_SESSION_WINDOW + 1; i++) {
		snprintf(name, sizeof(name), "u%llu", (unsigned long long)i);
		cfsmt_apply_entry(c, once(SID, i, 1,
		    cfsm_enc_user_set(name, "blob")));
	}
	ck_assert_int_eq(cfsm_session_result(c, SID, 1), CFSM_R_STALE);
	ck_assert_int_eq(cfsm_session_result(c, SID, 2), CFSM_R_APPLIED);
	ck_assert_int_eq(cfsm_session_result(c, SID,
	    CFSM_SESSION_WINDOW + 1), CFSM_R_APPLIED);
	cfsm_free(c);
}
END_TEST

/*
 * Expiry is counted in session entries: more than CFSM_SESSIONS_MAX
 * sessions drop the one idle longest; one silent for more than
 * CFSM_SESSION_IDLE of them is gone. Gone means its commands are not
 * applied, even its copies.
 */
START_TEST(test_expiry)
{
	struct cfsm_rec	 rec;
	struct cfsm	*c;
	uint64_t	 i;
	char		*set;

	c = cfsmt_new_rec(&rec);
	cfsmt_apply_entry(c, cfsm_enc_session(SID));
	cfsmt_apply_entry(c, cfsm_enc_session(SID2));
	set = once(SID, 1, 1, cfsm_enc_user_set("alice", "blob-a"));
	cfsmt_apply_str(c, set);
	for (i = 1; i < CFSM_SESSIONS_MAX; i++)
		cfsmt_apply_entry(c, cfsm_enc_session(0x1000 + i));
	/* SID2 was idle longest: the 64th new one pushed it out. */
	ck_assert(!cfsm_session_known(c, SID2));
	ck_assert(cfsm_session_known(c, SID));
	ck_assert_int_eq(cfsm_session_result(c, SID2, 1), CFSM_R_NOSESSION);

	/* SID silent for CFSM_SESSION_IDLE session entries: gone. */
	for (i = 0; i < CFSM_SESSION_IDLE - CFSM_SESSIONS_MAX + 1; i++)
		cfsmt_apply_entry(c, cfsm_enc_session(0x1001));
	ck_assert(cfsm_session_known(c, SID));
	cfsmt_apply_entry(c, cfsm_enc_session(0x1001));
	ck_assert(!cfsm_session_known(c, SID));
	cfsmt_apply_entry(c, cfsm_enc_user_del("alice"));
	cfsmt_apply_str(c, set);
	free(set);
	ck_assert_ptr_null(cfsm_user(c, "alice"));
	ck_assert_int_eq(rec.sets, 1);
	cfsm_free(c);
}
END_TEST

/* Sessions go through a snapshot and back, exactly; older ones load. */
START_TEST(test_snapshot)
{
	struct cfsm_rec	 rec;
	struct cfsm	*a, *b;
	char		*text, *again, *set;

	a = cfsm_new(NULL);
	cfsmt_apply_entry(a, cfsm_enc_init("example.org", KEY));
	cfsmt_apply_entry(a, cfsm_enc_session(SID));
	cfsmt_apply_entry(a, cfsm_enc_session(SID2));
	set = once(SID, 2, 2, cfsm_enc_user_set("alice", "blob-a"));
	cfsmt_apply_str(a, set);
	cfsmt_apply_entry(a, once(SID, 3, 2, cfsm_enc_user_del("bob")));
	text = cfsmt_snap_text(a);
	ck_assert_str_eq(text, "cfsm 5\n"
	    "init\texample.org\t" KEY "\n"
	    "user-set\talice\tblob-a\n"
	    "tick\t4\n"
	    "session\t0102030405060708\t2\t1\t-\n"
	    "session\t1122334455667788\t4\t2\t2:0,3:0\n");
	b = cfsmt_new_rec(&rec);
	ck_assert_int_eq(cfsmt_restore(b, text), 0);
	again = cfsmt_snap_text(b);
	ck_assert_str_eq(again, text);
	free(again);
	/* The copy after restore is applied no more than before it. */
	cfsmt_apply_entry(b, once(SID, 4, 2, cfsm_enc_user_del("alice")));
	rec.sets = 0;
	cfsmt_apply_str(b, set);
	free(set);
	ck_assert_int_eq(rec.sets, 0);
	ck_assert_ptr_null(cfsm_user(b, "alice"));
	ck_assert_int_eq(cfsm_session_result(b, SID, 2), CFSM_R_APPLIED);
	free(text);
	cfsm_free(a);
	cfsm_free(b);

	/* A snapshot of before sessions still loads. */
	b = cfsm_new(NULL);
	ck_assert_int_eq(cfsmt_restore(b, "cfsm 4\nrevoke\t"
	    KEY KEY "\n"), 0);
	ck_assert(cfsm_revoked(b, KEY KEY));
	cfsm_free(b);
}
END_TEST

/* Snapshots with bad session lines are refused, the state kept. */
START_TEST(test_snapshot_refused)
{
	static const char *bad[] = {
		"cfsm 5\n",
		"cfsm 4\ntick\t1\n",
		"cfsm 5\ntick\t1\ntick\t1\n",
		"cfsm 5\nsession\t1122334455667788\t1\t1\t-\ntick\t1\n",
		"cfsm 5\ntick\t1\nsession\t1122334455667788\t2\t1\t-\n",
		"cfsm 5\ntick\t1\nsession\t1122334455667788\t1\t0\t-\n",
		"cfsm 5\ntick\t1\nsession\t0000000000000000\t1\t1\t-\n",
		"cfsm 5\ntick\t1\nsession\t1122334455667788\t1\t1\n",
		"cfsm 5\ntick\t1\nsession\t1122334455667788\t1\t1\t-\n"
		    "session\t1122334455667788\t1\t1\t-\n",
		"cfsm 5\ntick\t1\nsession\t1122334455667788\t1\t3\t2:0\n",
		"cfsm 5\ntick\t1\nsession\t1122334455667788\t1\t1\t2:8\n",
		"cfsm 5\ntick\t1\nsession\t1122334455667788\t1\t1\t2:0,2:0\n",
		"cfsm 5\ntick\t1\nsession\t1122334455667788\t1\t1\t2\n",
		"cfsm 5\ntick\tx\n",
		"cfsm 5\ntick\t1\nsession-open\t1122334455667788\n",
	};
	struct cfsm	*c;
	char		*before, *after;
	size_t		 i;

	c = cfsm_new(NULL);
	cfsmt_apply_entry(c, cfsm_enc_session(SID));
	before = cfsmt_snap_text(c);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(cfsmt_restore(c, bad[i]) != 0, "took %s", bad[i]);
	after = cfsmt_snap_text(c);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	cfsm_free(c);
}
END_TEST

/* What a member may APPLY, in an envelope too. */
START_TEST(test_entry_allowed)
{
	char	 why[128];

	ck_assert_int_eq(cfsm_entry_allowed("@1122334455667788:1:1\t"
	    "published\t7", 7, why, sizeof(why)), 0);
	ck_assert_int_eq(cfsm_entry_allowed("session-open\t1122334455667788",
	    7, why, sizeof(why)), 0);
	ck_assert_int_eq(cfsm_entry_allowed("@1122334455667788:1:1\t"
	    "published\t8", 7, why, sizeof(why)), -1);
	ck_assert_int_eq(cfsm_entry_allowed("@1122334455667788:1:1\t"
	    "forget\t8", 7, why, sizeof(why)), -1);
	ck_assert_int_eq(cfsm_entry_allowed("@1122334455667788:1:1\t"
	    "session-open\t1122334455667788", 7, why, sizeof(why)), -1);
	ck_assert_int_eq(cfsm_entry_allowed("@1122334455667788:1\t"
	    "published\t7", 7, why, sizeof(why)), -1);
}
END_TEST

/*
 * Under raft: the leader applies a user-set and dies before its
 * submitter hears so; the submitter sends it again to the next leader
 * after a user-del went in. Every server applied the set once and alice
 * stays deleted, on a server that catches up by snapshot too.
 */
START_TEST(test_raft_resubmit)
{
	struct cfsmt_fx		 x;
	unsigned	 old;
	int		 i, nw;
	char		*open, *set, *del;

	cfsmt_fx_up(&x, 3);
	open = cfsm_enc_session(SID);
	set = once(SID, 1, 1, cfsm_enc_user_set("alice", "blob-a"));
	del = once(SID, 2, 1, cfsm_enc_user_del("alice"));
	fx_apply(&x, open);
	fx_apply(&x, set);
	/* The same command again, its answer lost: applied once. */
	fx_apply(&x, set);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(x.rec[i].sets, 1);
		ck_assert_int_eq(cfsm_session_result(x.c[i], SID, 1),
		    CFSM_R_APPLIED);
	}
	old = cfsmt_fx_leader(&x);
	raft_fixture_kill(&x.f, old);
	ck_assert(raft_fixture_step_until_has_no_leader(&x.f, CFSMT_FX_MSECS));
	ck_assert(raft_fixture_step_until_has_leader(&x.f, CFSMT_FX_MSECS));
	fx_apply(&x, del);
	fx_apply(&x, set);
	cfsmt_fx_agree(&x);
	for (i = 0; i < 3; i++) {
		if ((unsigned)i == old)
			continue;
		ck_assert_ptr_null(cfsm_user(x.c[i], "alice"));
		ck_assert_str_eq(x.rec[i].log, "set alice=blob-a;del alice;");
	}

	/* A fourth server catches up from a snapshot, sessions and all. */
	nw = cfsmt_fx_grow(&x);
	ck_assert_int_eq(raft_start(raft_fixture_get(&x.f, nw)), 0);
	cfsmt_fx_add_voter(&x, nw + 1, "4");
	fx_apply(&x, set);
	ck_assert_uint_ge(raft_fixture_n_recv(&x.f, nw,
	    RAFT_INSTALL_SNAPSHOT), 1);
	cfsmt_fx_agree(&x);
	ck_assert_ptr_null(cfsm_user(x.c[nw], "alice"));
	/* It may restore alice from a snapshot, then hear her deleted. */
	ck_assert_int_le(count(x.rec[nw].log, "set alice"), 1);
	ck_assert_int_le(count(x.rec[nw].log, "del alice"), 1);
	ck_assert_int_le(x.rec[nw].sets, 1);
	ck_assert_int_eq(cfsm_session_result(x.c[nw], SID, 1),
	    CFSM_R_APPLIED);
	free(open);
	free(set);
	free(del);
	cfsmt_fx_down(&x);
}
END_TEST

/* All tests. */
static Suite *
session_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("cluster_session");
	tc = tcase_create("state");
	tcase_add_test(tc, test_enc);
	tcase_add_test(tc, test_bad_envelopes);
	tcase_add_test(tc, test_apply_once);
	tcase_add_test(tc, test_no_resurrection);
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_snapshot);
	tcase_add_test(tc, test_snapshot_refused);
	tcase_add_test(tc, test_entry_allowed);
	suite_add_tcase(s, tc);
	tc = tcase_create("raft");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_raft_resubmit);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cfsmt_main("check_cluster_session", session_suite()));
}
