/*
 * Unit tests for the replicated entries behind the cluster's view
 * (cluster_fsm.c): timers and published, their encoding and bounds, apply,
 * forget, and snapshots: "cfsm 3" only when the state holds them, older
 * "cfsm 1" and "cfsm 2" snapshots still read, bad "cfsm 3" ones refused.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/cluster.h"
#include "compat.h"
#include "log.h"
#include "xmalloc.h"

#define KEY	"000102030405060708090a0b0c0d0e0f"
#define DIG_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IDENT	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

static int	 changes;

static void	 count_changed(void *);
static struct cfsm *new_counted(void);
static void	 apply_entry(struct cfsm *, char *);
static char	*snap_text(struct cfsm *);
static int	 restore_text(struct cfsm *, const char *);
static Suite	*cview_suite(void);

/* Sink: something changed. */
static void
count_changed(void *arg)
{
	(void)arg;
	changes++;
}

/* A state machine that counts its changes (from 0). */
static struct cfsm *
new_counted(void)
{
	struct cfsm_sink	 sink;

	memset(&sink, 0, sizeof(sink));
	sink.changed = count_changed;
	changes = 0;
	return (cfsm_new(&sink));
}

/* Apply an encoded entry (must not be NULL) as raft would; free it. */
static void
apply_entry(struct cfsm *c, char *s)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	 buf;
	void			*result = NULL;

	ck_assert_ptr_nonnull(s);
	buf.base = s;
	buf.len = strlen(s);
	ck_assert_int_eq(fsm->apply(fsm, &buf, &result), 0);
	free(s);
}

/* c's snapshot as a string. */
static char *
snap_text(struct cfsm *c)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	*bufs = NULL;
	unsigned		 n = 0;
	char			*s;

	ck_assert_int_eq(fsm->snapshot(fsm, &bufs, &n), 0);
	ck_assert_uint_eq(n, 1);
	s = xstrndup(bufs[0].base, bufs[0].len);
	raft_free(bufs[0].base);
	raft_free(bufs);
	return (s);
}

/* Restore c from text: raft's status (0 on success). */
static int
restore_text(struct cfsm *c, const char *text)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	 buf;
	int			 rv;

	buf.len = strlen(text);
	buf.base = raft_malloc(buf.len + 1);
	memcpy(buf.base, text, buf.len + 1);
	if ((rv = fsm->restore(fsm, &buf)) != 0)
		raft_free(buf.base);
	return (rv);
}

START_TEST(test_enc_timers)
{
	char	*s;

	s = cfsm_enc_timers(100, 500);
	ck_assert_str_eq(s, "timers\t100\t500");
	free(s);
	s = cfsm_enc_timers(CFSM_HB_MIN, 3 * CFSM_HB_MIN);
	ck_assert_ptr_nonnull(s);
	free(s);
	s = cfsm_enc_timers(CFSM_HB_MAX, CFSM_EL_MAX);
	ck_assert_ptr_nonnull(s);
	free(s);
	/* Out of range: no entry. */
	ck_assert_ptr_null(cfsm_enc_timers(CFSM_HB_MIN - 1, 500));
	ck_assert_ptr_null(cfsm_enc_timers(CFSM_HB_MAX + 1, CFSM_EL_MAX));
	ck_assert_ptr_null(cfsm_enc_timers(100, 299));
	ck_assert_ptr_null(cfsm_enc_timers(100, CFSM_EL_MAX + 1));
	ck_assert_ptr_null(cfsm_enc_timers(-5, 500));
	s = cfsm_enc_published(7);
	ck_assert_str_eq(s, "published\t7");
	free(s);
	ck_assert_ptr_null(cfsm_enc_published(0));
}
END_TEST

START_TEST(test_apply_timers)
{
	struct cfsm	*c;
	int		 hb = 0, el = 0;

	c = new_counted();
	ck_assert_int_eq(cfsm_timers(c, &hb, &el), -1);
	apply_entry(c, cfsm_enc_timers(50, 400));
	ck_assert_int_eq(cfsm_timers(c, &hb, &el), 0);
	ck_assert_int_eq(hb, 50);
	ck_assert_int_eq(el, 400);
	ck_assert_int_eq(changes, 1);
	/* The same again changes nothing; new ones replace them. */
	apply_entry(c, cfsm_enc_timers(50, 400));
	ck_assert_int_eq(changes, 1);
	apply_entry(c, cfsm_enc_timers(100, 500));
	ck_assert_int_eq(cfsm_timers(c, &hb, &el), 0);
	ck_assert_int_eq(hb, 100);
	ck_assert_int_eq(changes, 2);
	/* Out-of-range timers from the log are skipped. */
	apply_entry(c, xstrdup("timers\t5\t500"));
	apply_entry(c, xstrdup("timers\t100\t200"));
	apply_entry(c, xstrdup("timers\t100\t9999999"));
	apply_entry(c, xstrdup("timers\t-100\t500"));
	apply_entry(c, xstrdup("timers\t100"));
	ck_assert_int_eq(cfsm_timers(c, &hb, &el), 0);
	ck_assert_int_eq(hb, 100);
	ck_assert_int_eq(el, 500);
	ck_assert_int_eq(changes, 2);
	cfsm_free(c);
}
END_TEST

START_TEST(test_apply_published)
{
	struct cfsm	*c;

	c = new_counted();
	ck_assert_int_eq(cfsm_published(c, 7), 0);
	/* A digest alone is not publishing all of them. */
	apply_entry(c, cfsm_enc_digest(7, "cb1", DIG_A));
	ck_assert_int_eq(cfsm_published(c, 7), 0);
	apply_entry(c, cfsm_enc_published(7));
	ck_assert_int_eq(cfsm_published(c, 7), 1);
	ck_assert_int_eq(cfsm_published(c, 9), 0);
	changes = 0;
	apply_entry(c, cfsm_enc_published(7));
	ck_assert_int_eq(changes, 0);
	apply_entry(c, cfsm_enc_published(9));
	/* forget drops the mark with the digests. */
	apply_entry(c, cfsm_enc_forget(7));
	ck_assert_int_eq(cfsm_published(c, 7), 0);
	ck_assert_int_eq(cfsm_published(c, 9), 1);
	apply_entry(c, xstrdup("published\t0"));
	apply_entry(c, xstrdup("published\tx"));
	ck_assert_int_eq(cfsm_published(c, 0), 0);
	cfsm_free(c);
}
END_TEST

START_TEST(test_snapshot_versions)
{
	struct cfsm	*a, *b;
	char		*s, *t;
	int		 hb, el;

	/* Without timers or published nodes: written as before. */
	a = cfsm_new(NULL);
	apply_entry(a, cfsm_enc_init("example.org", KEY));
	s = snap_text(a);
	ck_assert_str_eq(s, "cfsm 1\ninit\texample.org\t" KEY "\n");
	free(s);
	apply_entry(a, cfsm_enc_member(7, "10.0.0.7:5270", IDENT));
	s = snap_text(a);
	ck_assert_str_eq(s, "cfsm 2\ninit\texample.org\t" KEY "\n"
	    "member\t7\t10.0.0.7:5270\t" IDENT "\n");
	free(s);

	/* With them: cfsm 3, and a restore gives the same state. */
	apply_entry(a, cfsm_enc_timers(50, 400));
	apply_entry(a, cfsm_enc_published(7));
	apply_entry(a, cfsm_enc_published(3));
	s = snap_text(a);
	ck_assert_str_eq(s, "cfsm 3\ninit\texample.org\t" KEY "\n"
	    "member\t7\t10.0.0.7:5270\t" IDENT "\n"
	    "timers\t50\t400\n"
	    "published\t7\npublished\t3\n");
	b = new_counted();
	ck_assert_int_eq(restore_text(b, s), 0);
	t = snap_text(b);
	ck_assert_str_eq(s, t);
	ck_assert_int_eq(cfsm_timers(b, &hb, &el), 0);
	ck_assert_int_eq(el, 400);
	ck_assert_int_eq(cfsm_published(b, 3), 1);
	free(s);
	free(t);

	/* A cfsm 3 snapshot needs no member line. */
	ck_assert_int_eq(restore_text(b, "cfsm 3\ntimers\t100\t500\n"), 0);
	ck_assert_int_eq(cfsm_timers(b, &hb, &el), 0);
	ck_assert_int_eq(hb, 100);
	ck_assert_int_eq(cfsm_published(b, 3), 0);

	/* Older snapshots still read, and clear timers and marks. */
	ck_assert_int_eq(restore_text(b, "cfsm 2\n"
	    "member\t7\t10.0.0.7:5270\t" IDENT "\n"), 0);
	ck_assert_int_eq(cfsm_timers(b, &hb, &el), -1);
	ck_assert_ptr_nonnull(cfsm_member(b, 7, NULL));
	ck_assert_int_eq(restore_text(b, "cfsm 1\n"
	    "init\texample.org\t" KEY "\n"), 0);
	ck_assert_str_eq(cfsm_domain(b), "example.org");
	cfsm_free(a);
	cfsm_free(b);
}
END_TEST

START_TEST(test_snapshot_refused)
{
	static const char *bad[] = {
		"cfsm 1\ntimers\t100\t500\n",
		"cfsm 2\nmember\t7\t10.0.0.7:5270\t" IDENT "\n"
		    "published\t7\n",
		"cfsm 3\ntimers\t100\t500\ntimers\t100\t500\n",
		"cfsm 3\npublished\t7\npublished\t7\n",
		"cfsm 3\ntimers\t5\t500\n",
		"cfsm 3\npublished\t0\n",
		"cfsm 3\nrevoke\t" IDENT "\n",
		"cfsm 4\nrevoke\tabc\n",
		"cfsm 5\n",
	};
	struct cfsm	*c;
	char		*before, *after;
	size_t		 i;

	c = cfsm_new(NULL);
	apply_entry(c, cfsm_enc_timers(50, 400));
	before = snap_text(c);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_int_ne(restore_text(c, bad[i]), 0);
	after = snap_text(c);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	cfsm_free(c);
}
END_TEST

/* All tests. */
static Suite *
cview_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("cluster_view");
	tc = tcase_create("entries");
	tcase_add_test(tc, test_enc_timers);
	tcase_add_test(tc, test_apply_timers);
	tcase_add_test(tc, test_apply_published);
	suite_add_tcase(s, tc);
	tc = tcase_create("snapshot");
	tcase_add_test(tc, test_snapshot_versions);
	tcase_add_test(tc, test_snapshot_refused);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init("check_cluster_view", 1, 0);
	sr = srunner_create(cview_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
