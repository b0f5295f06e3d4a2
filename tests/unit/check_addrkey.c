/*
 * Unit tests for daemon/addrkey.c: IPv6 peers are counted per /64, IPv4
 * peers per address, whatever way the address is written.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "addrkey.h"
#include "unit.h"

static Suite	*addrkey_suite(void);

/* IPv4 addresses are their own key. */
START_TEST(test_v4)
{
	char	 key[ADDRKEY_LEN];

	ck_assert_int_eq(addrkey_make("127.0.0.9", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "127.0.0.9");
	ck_assert_int_eq(addrkey_make("::ffff:192.0.2.7", key, sizeof(key)),
	    0);
	ck_assert_str_eq(key, "192.0.2.7");
}
END_TEST

/* Every address of one /64 shares a key; the next /64 does not. */
START_TEST(test_v6_64)
{
	char	 a[ADDRKEY_LEN], b[ADDRKEY_LEN], c[ADDRKEY_LEN];

	ck_assert_int_eq(addrkey_make("2001:db8:1:2::1", a, sizeof(a)), 0);
	ck_assert_int_eq(addrkey_make("2001:db8:1:2:dead:beef:0:7", b,
	    sizeof(b)), 0);
	ck_assert_int_eq(addrkey_make("2001:db8:1:3::1", c, sizeof(c)), 0);
	ck_assert_str_eq(a, "2001:db8:1:2::/64");
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq(addrkey_make("2001:0DB8:0001:0002:ffff:ffff:ffff:"
	    "ffff", b, sizeof(b)), 0);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(addrkey_make("::1", a, sizeof(a)), 0);
	ck_assert_str_eq(a, "::/64");
}
END_TEST

/* A zone is ignored; what is not an address is its own key. */
START_TEST(test_odd)
{
	char	 key[ADDRKEY_LEN], small[8];

	ck_assert_int_eq(addrkey_make("fe80::1:2:3:4%eth0", key, sizeof(key)),
	    0);
	ck_assert_str_eq(key, "fe80::/64");
	ck_assert_int_eq(addrkey_make("not-an-address", key, sizeof(key)),
	    -1);
	ck_assert_str_eq(key, "not-an-address");
	addrkey_make("2001:db8:1:2::1", small, sizeof(small));
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

/* The suite. */
static Suite *
addrkey_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("addrkey");
	tc = tcase_create("keys");
	tcase_add_test(tc, test_v4);
	tcase_add_test(tc, test_v6_64);
	tcase_add_test(tc, test_odd);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(addrkey_suite()));
}
