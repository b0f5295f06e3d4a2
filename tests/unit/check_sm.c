/*
 * Unit tests for the counter arithmetic of XEP-0198 stream management
 * (daemon/xmpp/sm.c, sm_h_valid in xmpp_int.h): a client's h is checked
 * against what was sent modulo 2^32, so the counters may wrap (XEP-0198
 * section 4) and an h that only a plain comparison would take is
 * refused.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"
#include "unit.h"

/* Nothing sent: only h = acked is right. */
START_TEST(nothing_sent)
{
	ck_assert(sm_h_valid(0, 0, 0));
	ck_assert(!sm_h_valid(0, 0, 1));
	ck_assert(!sm_h_valid(0, 0, UINT32_MAX));
	ck_assert(sm_h_valid(7, 7, 7));
	ck_assert(!sm_h_valid(7, 7, 8));
}
END_TEST

/* Up to what was sent, not beyond; never below what was acked. */
START_TEST(plain_range)
{
	ck_assert(sm_h_valid(3, 10, 3));
	ck_assert(sm_h_valid(3, 10, 4));
	ck_assert(sm_h_valid(3, 10, 10));
	ck_assert(!sm_h_valid(3, 10, 11));
	ck_assert(!sm_h_valid(3, 10, 2));
}
END_TEST

/* Counters that wrapped past 2^32 - 1. */
START_TEST(wraps)
{
	uint32_t	 acked = UINT32_MAX - 1, out = 2;	/* 4 sent */

	ck_assert(sm_h_valid(acked, out, UINT32_MAX));
	ck_assert(sm_h_valid(acked, out, 0));
	ck_assert(sm_h_valid(acked, out, 1));
	ck_assert(sm_h_valid(acked, out, 2));
	ck_assert(!sm_h_valid(acked, out, 3));
	ck_assert(!sm_h_valid(acked, out, UINT32_MAX - 2));
	/* Everything acked just before the wrap, one more sent. */
	ck_assert(sm_h_valid(UINT32_MAX, 0, 0));
	ck_assert(!sm_h_valid(UINT32_MAX, 0, 1));
	/* A plain comparison would take h = 5 for acked 2^32-2, out 2. */
	ck_assert(!sm_h_valid(acked, out, 5));
}
END_TEST

/* The whole window: 2^32 - 1 stanzas unacknowledged at most. */
START_TEST(full_window)
{
	ck_assert(sm_h_valid(1, 0, 0));
	ck_assert(sm_h_valid(1, 0, UINT32_MAX));
	ck_assert(sm_h_valid(1, 0, 1));
}
END_TEST

static Suite *
sm_suite(void)
{
	Suite	*s = suite_create("sm");
	TCase	*tc = tcase_create("sm");

	tcase_add_test(tc, nothing_sent);
	tcase_add_test(tc, plain_range);
	tcase_add_test(tc, wraps);
	tcase_add_test(tc, full_window);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	log_init("check_sm", 1, 0);
	return (unit_run(sm_suite()));
}
