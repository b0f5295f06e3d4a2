/*
 * Unit tests for the replicated entries behind the cluster's view
 * (fsm*.c): timers and published, their encoding and bounds, apply,
 * forget, and snapshots: "cfsm 3" only when the state holds them, older
 * "cfsm 1" and "cfsm 2" snapshots still read, bad "cfsm 3" ones refused.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/fsm.h"
#include "cfsm_helpers.h"
#include "compat.h"
#include "log.h"
#include "xmalloc.h"

#define KEY	"000102030405060708090a0b0c0d0e0f"
#define DIG_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IDENT	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

static struct cfsm_rec	 rec;	/* what the sink heard */

static Suite	*cview_suite(void);

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

	c = cfsmt_new_rec(&rec);
	ck_assert_int_eq(cfsm_timers(c, &hb, &el), -1);
	cfsmt_apply_entry(c, cfsm_enc_timers(50, 400));
	ck_assert_int_eq(cfsm_timers(c, &hb, &el), 0);
	ck_assert_int_eq(hb, 50);
	ck_assert_int_eq(el, 400);
	ck_assert_int_eq(rec.changed, 1);
	/* The same again changes nothing; new ones replace them. */
	cfsmt_apply_entry(c, cfsm_enc_timers(50, 400));
	ck_assert_int_eq(rec.changed, 1);
	cfsmt_apply_entry(c, cfsm_enc_timers(100, 500));
	ck_assert_int_eq(cfsm_timers(c, &hb, &el), 0);
	ck_assert_int_eq(hb, 100);
	ck_assert_int_eq(rec.changed, 2);
	/* Out-of-range timers from the log are skipped. */
	cfsmt_apply_entry(c, xstrdup("timers\t5\t500"));
	cfsmt_apply_entry(c, xstrdup("timers\t100\t200"));
	cfsmt_apply_entry(c, xstrdup("timers\t100\t9999999"));
	cfsmt_apply_entry(c, xstrdup("timers\t-100\t500"));
	cfsmt_apply_entry(c, xstrdup("timers\t100"));
	ck_assert_int_eq(cfsm_timers(c, &hb, &el), 0);
	ck_assert_int_eq(hb, 100);
	ck_assert_int_eq(el, 500);
	ck_assert_int_eq(rec.changed, 2);
	cfsm_free(c);
}
END_TEST

START_TEST(test_apply_published)
{
	struct cfsm	*c;

	c = cfsmt_new_rec(&rec);
	ck_assert_int_eq(cfsm_published(c, 7), 0);
	/* A digest alone is not publishing all of them. */
	cfsmt_apply_entry(c, cfsm_enc_digest(7, "cb1", DIG_A));
	ck_assert_int_eq(cfsm_published(c, 7), 0);
	cfsmt_apply_entry(c, cfsm_enc_published(7));
	ck_assert_int_eq(cfsm_published(c, 7), 1);
	ck_assert_int_eq(cfsm_published(c, 9), 0);
	rec.changed = 0;
	cfsmt_apply_entry(c, cfsm_enc_published(7));
	ck_assert_int_eq(rec.changed, 0);
	cfsmt_apply_entry(c, cfsm_enc_published(9));
	/* forget drops the mark with the digests. */
	cfsmt_apply_entry(c, cfsm_enc_forget(7));
	ck_assert_int_eq(cfsm_published(c, 7), 0);
	ck_assert_int_eq(cfsm_published(c, 9), 1);
	cfsmt_apply_entry(c, xstrdup("published\t0"));
	cfsmt_apply_entry(c, xstrdup("published\tx"));
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
	cfsmt_apply_entry(a, cfsm_enc_init("example.org", KEY));
	s = cfsmt_snap_text(a);
	ck_assert_str_eq(s, "cfsm 1\ninit\texample.org\t" KEY "\n");
	free(s);
	cfsmt_apply_entry(a, cfsm_enc_member(7, "10.0.0.7:5270", IDENT));
	s = cfsmt_snap_text(a);
	ck_assert_str_eq(s, "cfsm 2\ninit\texample.org\t" KEY "\n"
	    "member\t7\t10.0.0.7:5270\t" IDENT "\n");
	free(s);

	/* With them: cfsm 3, and a restore gives the same state. */
	cfsmt_apply_entry(a, cfsm_enc_timers(50, 400));
	cfsmt_apply_entry(a, cfsm_enc_published(7));
	cfsmt_apply_entry(a, cfsm_enc_published(3));
	s = cfsmt_snap_text(a);
	ck_assert_str_eq(s, "cfsm 3\ninit\texample.org\t" KEY "\n"
	    "member\t7\t10.0.0.7:5270\t" IDENT "\n"
	    "timers\t50\t400\n"
	    "published\t7\npublished\t3\n");
	b = cfsmt_new_rec(&rec);
	ck_assert_int_eq(cfsmt_restore(b, s), 0);
	t = cfsmt_snap_text(b);
	ck_assert_str_eq(s, t);
	ck_assert_int_eq(cfsm_timers(b, &hb, &el), 0);
	ck_assert_int_eq(el, 400);
	ck_assert_int_eq(cfsm_published(b, 3), 1);
	free(s);
	free(t);

	/* A cfsm 3 snapshot needs no member line. */
	ck_assert_int_eq(cfsmt_restore(b, "cfsm 3\ntimers\t100\t500\n"), 0);
	ck_assert_int_eq(cfsm_timers(b, &hb, &el), 0);
	ck_assert_int_eq(hb, 100);
	ck_assert_int_eq(cfsm_published(b, 3), 0);

	/* Older snapshots still read, and clear timers and marks. */
	ck_assert_int_eq(cfsmt_restore(b, "cfsm 2\n"
	    "member\t7\t10.0.0.7:5270\t" IDENT "\n"), 0);
	ck_assert_int_eq(cfsm_timers(b, &hb, &el), -1);
	ck_assert_ptr_nonnull(cfsm_member(b, 7, NULL));
	ck_assert_int_eq(cfsmt_restore(b, "cfsm 1\n"
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
	cfsmt_apply_entry(c, cfsm_enc_timers(50, 400));
	before = cfsmt_snap_text(c);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_int_ne(cfsmt_restore(c, bad[i]), 0);
	after = cfsmt_snap_text(c);
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
	return (cfsmt_main("check_cluster_view", cview_suite()));
}
