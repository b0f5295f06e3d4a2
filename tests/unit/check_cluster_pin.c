/*
 * Unit tests for the member pins of the cluster's replicated state
 * machine (cluster_fsm.c): the member entry, its apply and forget, the
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

#include "cluster/cluster.h"
#include "compat.h"
#include "log.h"
#include "xmalloc.h"

#define ID_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"
#define KEY	"000102030405060708090a0b0c0d0e0f"

static void	 apply_str(struct cfsm *, const char *);
static char	*snap_text(struct cfsm *);
static int	 restore_str(struct cfsm *, const char *);

/* Apply one entry (a string, padded to 8 bytes as raft wants). */
static void
apply_str(struct cfsm *c, const char *s)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	 buf;

	buf.len = (strlen(s) + 8) & ~(size_t)7;
	buf.base = xcalloc(1, buf.len);
	memcpy(buf.base, s, strlen(s));
	ck_assert_int_eq(fsm->apply(fsm, &buf, NULL), 0);
	free(buf.base);
}

/* The snapshot of c as a string; the caller frees. */
static char *
snap_text(struct cfsm *c)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	*bufs = NULL;
	unsigned		 n = 0;
	char			*s;

	ck_assert_int_eq(fsm->snapshot(fsm, &bufs, &n), 0);
	ck_assert_uint_eq(n, 1);
	s = xcalloc(1, bufs[0].len + 1);
	memcpy(s, bufs[0].base, bufs[0].len);
	raft_free(bufs[0].base);
	raft_free(bufs);
	return (s);
}

/* Restore c from text: raft's status (0 on success). */
static int
restore_str(struct cfsm *c, const char *text)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	 buf;
	int			 rv;

	buf.len = strlen(text);
	buf.base = raft_malloc(buf.len + 1);
	memcpy(buf.base, text, buf.len + 1);
	if ((rv = fsm->restore(fsm, &buf)) != 0)
		raft_free(buf.base);	/* on failure it stays ours */
	return (rv);
}

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
	apply_str(c, "member\t7\t127.0.0.1:5270\t" ID_A);
	ck_assert_int_eq(cfsm_member_any(c), 1);
	ck_assert_str_eq(cfsm_member(c, 7, &addr), ID_A);
	ck_assert_str_eq(addr, "127.0.0.1:5270");
	ck_assert_ptr_null(cfsm_member(c, 8, NULL));
	/* A new certificate or address replaces the pin. */
	apply_str(c, "member\t7\t127.0.0.2:5270\t" ID_B);
	ck_assert_str_eq(cfsm_member(c, 7, &addr), ID_B);
	ck_assert_str_eq(addr, "127.0.0.2:5270");
	/* Malformed entries change nothing. */
	apply_str(c, "member\t7\t127.0.0.3:5270\tabc");
	apply_str(c, "member\t7\t127.0.0.3:5270");
	apply_str(c, "member\t0\t127.0.0.3:5270\t" ID_A);
	ck_assert_str_eq(cfsm_member(c, 7, &addr), ID_B);
	ck_assert_str_eq(addr, "127.0.0.2:5270");
	/* forget drops the pin with the digests. */
	apply_str(c, "member\t9\t127.0.0.9:5270\t" ID_A);
	apply_str(c, "digest-set\t7\tcb1\t" KEY);
	apply_str(c, "forget\t7");
	ck_assert_ptr_null(cfsm_member(c, 7, NULL));
	ck_assert_ptr_null(cfsm_digest(c, 7, "cb1"));
	ck_assert_str_eq(cfsm_member(c, 9, NULL), ID_A);
	apply_str(c, "forget\t9");
	ck_assert_int_eq(cfsm_member_any(c), 0);
	cfsm_free(c);
}
END_TEST

START_TEST(test_member_snapshot)
{
	struct cfsm	*c = cfsm_new(NULL), *d = cfsm_new(NULL);
	const char	*addr = NULL;
	char		*s, *t;

	apply_str(c, "init\texample.com\t" KEY);
	s = snap_text(c);
	ck_assert_str_eq(s, "cfsm 1\ninit\texample.com\t" KEY "\n");
	free(s);
	apply_str(c, "member\t9\t127.0.0.9:5270\t" ID_B);
	apply_str(c, "member\t7\t127.0.0.1:5270\t" ID_A);
	apply_str(c, "user-set\talice\tblob");
	s = snap_text(c);
	ck_assert_str_eq(s, "cfsm 2\ninit\texample.com\t" KEY "\n"
	    "member\t7\t127.0.0.1:5270\t" ID_A "\n"
	    "member\t9\t127.0.0.9:5270\t" ID_B "\n"
	    "user-set\talice\tblob\n");
	/* The pins survive a restore. */
	ck_assert_int_eq(restore_str(d, s), 0);
	ck_assert_str_eq(cfsm_member(d, 7, &addr), ID_A);
	ck_assert_str_eq(addr, "127.0.0.1:5270");
	ck_assert_str_eq(cfsm_member(d, 9, NULL), ID_B);
	ck_assert_str_eq(cfsm_domain(d), "example.com");
	t = snap_text(d);
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

	apply_str(c, "member\t5\t127.0.0.5:5270\t" ID_B);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_int_ne(restore_str(c, bad[i]), 0);
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
	apply_str(c, "member\t7\t127.0.0.1:5270\t" ID_A);
	apply_str(c, "member\t8\t[::1]:5270\t" ID_B);
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

int
main(void)
{
	Suite	*s = suite_create("cluster_pin");
	TCase	*tc = tcase_create("pin");
	SRunner	*sr;
	int	 failed;

	log_init("check_cluster_pin", 1, 0);
	tcase_add_test(tc, test_member_enc);
	tcase_add_test(tc, test_member_apply);
	tcase_add_test(tc, test_member_snapshot);
	tcase_add_test(tc, test_member_restore_refused);
	tcase_add_test(tc, test_members_cache);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? 0 : 1);
}
