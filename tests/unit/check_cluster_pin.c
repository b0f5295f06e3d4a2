/*
 * Unit tests for the member pins of the cluster's replicated state
 * machine (fsm*.c): the member entry, its apply and forget, the
 * snapshot that carries pins ("cfsm 2") and the one that does not
 * ("cfsm 1"), restores that must be refused, and the cached copy a node
 * keeps for a restart.
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

#define ID_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"
#define KEY	"000102030405060708090a0b0c0d0e0f"

static Suite	*cpin_suite(void);

START_TEST(test_member_enc)
{
	char	*e;

	e = cfsm_enc_member(7, "127.0.0.1:5270", ID_A);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e, "member\t7\t127.0.0.1:5270\t" ID_A);
	free(e);
	e = cfsm_enc_member(0xffffffffffffffffULL, "[::1]:5270", ID_B);
	ck_assert_ptr_nonnull(e);
	free(e);
	/* No node 0, no malformed address or identity. */
	ck_assert_ptr_null(cfsm_enc_member(0, "127.0.0.1:5270", ID_A));
	ck_assert_ptr_null(cfsm_enc_member(7, "a b:1", ID_A));
	ck_assert_ptr_null(cfsm_enc_member(7, "", ID_A));
	ck_assert_ptr_null(cfsm_enc_member(7, "127.0.0.1:5270", "abc"));
	ck_assert_ptr_null(cfsm_enc_member(7, "127.0.0.1:5270",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	ck_assert_ptr_null(cfsm_enc_member(7, "127.0.0.1:5270", ID_A "a"));
	ck_assert_ptr_null(cfsm_enc_member(7, "127.0.0.1:5270",
	    "gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

START_TEST(test_member_apply)
{
	struct cfsm	*c = cfsm_new(NULL);
	const char	*addr = NULL;

	ck_assert_int_eq(cfsm_member_any(c), 0);
	ck_assert_ptr_null(cfsm_member(c, 7, &addr));
	cfsmt_apply_padded(c, "member\t7\t127.0.0.1:5270\t" ID_A);
	ck_assert_int_eq(cfsm_member_any(c), 1);
	ck_assert_str_eq(cfsm_member(c, 7, &addr), ID_A);
	ck_assert_str_eq(addr, "127.0.0.1:5270");
	ck_assert_ptr_null(cfsm_member(c, 8, NULL));
	/* A new certificate or address replaces the pin. */
	cfsmt_apply_padded(c, "member\t7\t127.0.0.2:5270\t" ID_B);
	ck_assert_str_eq(cfsm_member(c, 7, &addr), ID_B);
	ck_assert_str_eq(addr, "127.0.0.2:5270");
	/* Malformed entries change nothing. */
	cfsmt_apply_padded(c, "member\t7\t127.0.0.3:5270\tabc");
	cfsmt_apply_padded(c, "member\t7\t127.0.0.3:5270");
	cfsmt_apply_padded(c, "member\t0\t127.0.0.3:5270\t" ID_A);
	ck_assert_str_eq(cfsm_member(c, 7, &addr), ID_B);
	ck_assert_str_eq(addr, "127.0.0.2:5270");
	/* forget drops the pin with the digests. */
	cfsmt_apply_padded(c, "member\t9\t127.0.0.9:5270\t" ID_A);
	cfsmt_apply_padded(c, "digest-set\t7\tcb1\t" KEY);
	cfsmt_apply_padded(c, "forget\t7");
	ck_assert_ptr_null(cfsm_member(c, 7, NULL));
	ck_assert_ptr_null(cfsm_digest(c, 7, "cb1"));
	ck_assert_str_eq(cfsm_member(c, 9, NULL), ID_A);
	cfsmt_apply_padded(c, "forget\t9");
	ck_assert_int_eq(cfsm_member_any(c), 0);
	cfsm_free(c);
}
END_TEST

START_TEST(test_member_snapshot)
{
	struct cfsm	*c = cfsm_new(NULL), *d = cfsm_new(NULL);
	const char	*addr = NULL;
	char		*s, *t;

	cfsmt_apply_padded(c, "init\texample.com\t" KEY);
	s = cfsmt_snap_text(c);
	ck_assert_str_eq(s, "cfsm 1\ninit\texample.com\t" KEY "\n");
	free(s);
	cfsmt_apply_padded(c, "member\t9\t127.0.0.9:5270\t" ID_B);
	cfsmt_apply_padded(c, "member\t7\t127.0.0.1:5270\t" ID_A);
	cfsmt_apply_padded(c, "user-set\talice\tblob");
	s = cfsmt_snap_text(c);
	ck_assert_str_eq(s, "cfsm 2\ninit\texample.com\t" KEY "\n"
	    "member\t7\t127.0.0.1:5270\t" ID_A "\n"
	    "member\t9\t127.0.0.9:5270\t" ID_B "\n"
	    "user-set\talice\tblob\n");
	/* The pins survive a restore. */
	ck_assert_int_eq(cfsmt_restore(d, s), 0);
	ck_assert_str_eq(cfsm_member(d, 7, &addr), ID_A);
	ck_assert_str_eq(addr, "127.0.0.1:5270");
	ck_assert_str_eq(cfsm_member(d, 9, NULL), ID_B);
	ck_assert_str_eq(cfsm_domain(d), "example.com");
	t = cfsmt_snap_text(d);
	ck_assert_str_eq(s, t);
	free(t);
	free(s);
	cfsm_free(c);
	cfsm_free(d);
}
END_TEST

START_TEST(test_member_restore_refused)
{
	static const char *bad[] = {
		"cfsm 2\n",
		"cfsm 2\ninit\texample.com\t" KEY "\n",
		"cfsm 1\nmember\t7\t127.0.0.1:5270\t" ID_A "\n",
		"cfsm 2\nmember\t7\t127.0.0.1:5270\t" ID_A "\n"
		    "member\t7\t127.0.0.2:5270\t" ID_B "\n",
		"cfsm 2\nmember\t7\t127.0.0.1:5270\tabc\n",
		"cfsm 2\nmember\t7\t127.0.0.1:5270\n",
		"cfsm 9\nmember\t7\t127.0.0.1:5270\t" ID_A "\n",
	};
	struct cfsm	*c = cfsm_new(NULL);
	size_t		 i;

	cfsmt_apply_padded(c, "member\t5\t127.0.0.5:5270\t" ID_B);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_int_ne(cfsmt_restore(c, bad[i]), 0);
	ck_assert_str_eq(cfsm_member(c, 5, NULL), ID_B);
	ck_assert_ptr_null(cfsm_member(c, 7, NULL));
	cfsm_free(c);
}
END_TEST

START_TEST(test_members_cache)
{
	struct cfsm	*c = cfsm_new(NULL), *d = cfsm_new(NULL);
	const char	*addr = NULL;
	char		*s;

	s = cfsm_members_enc(c);
	ck_assert_str_eq(s, "");
	free(s);
	cfsmt_apply_padded(c, "member\t7\t127.0.0.1:5270\t" ID_A);
	cfsmt_apply_padded(c, "member\t8\t[::1]:5270\t" ID_B);
	s = cfsm_members_enc(c);
	ck_assert_str_eq(s, "member\t7\t127.0.0.1:5270\t" ID_A "\n"
	    "member\t8\t[::1]:5270\t" ID_B);
	ck_assert_int_eq(cfsm_members_load(d, s), 2);
	free(s);
	ck_assert_str_eq(cfsm_member(d, 8, &addr), ID_B);
	ck_assert_str_eq(addr, "[::1]:5270");
	/* Anything but member lines is skipped. */
	ck_assert_int_eq(cfsm_members_load(d, "user-set\tbob\tx\n"
	    "member\t9\t127.0.0.9:5270\t" ID_A "\nmember\tjunk"), 1);
	ck_assert_ptr_null(cfsm_user(d, "bob"));
	ck_assert_str_eq(cfsm_member(d, 9, NULL), ID_A);
	cfsm_free(c);
	cfsm_free(d);
}
END_TEST

/* All tests. */
static Suite *
cpin_suite(void)
{
	Suite	*s = suite_create("cluster_pin");
	TCase	*tc = tcase_create("pin");

	tcase_add_test(tc, test_member_enc);
	tcase_add_test(tc, test_member_apply);
	tcase_add_test(tc, test_member_snapshot);
	tcase_add_test(tc, test_member_restore_refused);
	tcase_add_test(tc, test_members_cache);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cfsmt_main("check_cluster_pin", cpin_suite()));
}
