/*
 * Unit tests for common/log.c: what reaches the log cannot start a line
 * of its own or drive a terminal, and the escaping cannot be faked.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "unit.h"

static Suite	*log_suite(void);

/* Newlines, carriage returns, escape and DEL are made visible. */
START_TEST(test_controls)
{
	char	 out[256];

	log_escape(out, sizeof(out), "a\nmmpd: forged\r\x1b[2J\x7f\x01z");
	ck_assert_str_eq(out, "a\\nmmpd: forged\\r\\x1b[2J\\x7f\\x01z");
	log_escape(out, sizeof(out), "tab\tstays, so does caf\xc3\xa9");
	ck_assert_str_eq(out, "tab\tstays, so does caf\xc3\xa9");
}
END_TEST

/* A backslash is doubled; UTF-8 C1 controls are escaped. */
START_TEST(test_backslash_c1)
{
	char	 out[256];

	log_escape(out, sizeof(out), "a\\nb");
	ck_assert_str_eq(out, "a\\\\nb");
	log_escape(out, sizeof(out), "x\xc2\x9b" "31my\xc2\xa0");
	ck_assert_str_eq(out, "x\\u009b31my\xc2\xa0");
}
END_TEST

/* Output is cut at an escape's boundary and always terminated. */
START_TEST(test_cut)
{
	char	 out[5];

	ck_assert_uint_eq(log_escape(out, sizeof(out), "abc\ndef"), 3);
	ck_assert_str_eq(out, "abc");
	ck_assert_uint_eq(log_escape(out, sizeof(out), "ab\ndef"), 4);
	ck_assert_str_eq(out, "ab\\n");
}
END_TEST

/* A limiter lets one through, then holds the rest back and counts them. */
START_TEST(test_limit)
{
	struct log_limit	 ll;
	unsigned long		 held = 99;
	int			 i;

	memset(&ll, 0, sizeof(ll));
	ck_assert_int_eq(log_limit(&ll, &held), 1);
	ck_assert_uint_eq(held, 0);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(log_limit(&ll, &held), 0);
	ll.last -= LOG_LIMIT_SECS;
	ck_assert_int_eq(log_limit(&ll, &held), 1);
	ck_assert_uint_eq(held, 1000);
}
END_TEST

/* The suite. */
static Suite *
log_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("log");
	tc = tcase_create("escape");
	tcase_add_test(tc, test_controls);
	tcase_add_test(tc, test_backslash_c1);
	tcase_add_test(tc, test_cut);
	suite_add_tcase(s, tc);
	tc = tcase_create("limit");
	tcase_add_test(tc, test_limit);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(log_suite()));
}
