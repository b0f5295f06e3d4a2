/*
 * Unit tests for daemon/cluster/smtab.c, the leader's table of
 * stream-management sessions: entries by resumption id and by full JID
 * (a new one of the same id or session replaces the old); stanzas
 * numbered k+1 and mirrored until the client acknowledges them; an ack
 * before the last or beyond k changes nothing; counters wrap at 2^32;
 * the bounds per session (CSMTAB_MIRROR_MAX) and in all
 * (CSMTAB_MIRROR_BYTES); the mirror taken out whole (a session ends).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "cluster/smtab.h"
#include "unit.h"

/* A message to bob with body "m i". */
static struct xnode *
t_msg(unsigned i)
{
	struct xnode	*n, *b;
	char		 body[32];

	n = xnode_new("message", NULL);
	xnode_set_attr(n, "to", "bob@example.com/b");
	b = xnode_add(n, "body", NULL);
	snprintf(body, sizeof(body), "m %u", i);
	xnode_add_text(b, body, strlen(body));
	return (n);
}

/* Push message i to e; what csmtab_push said. */
static int
t_push(struct csm_entry *e, unsigned i)
{
	struct xnode	*n = t_msg(i);
	int		 rc;

	rc = csmtab_push(e, n, 0);
	xnode_free(n);
	return (rc);
}

/* The body text of mirrored stanza s, allocated. */
static char *
t_body(const struct csm_stanza *s)
{
	return (xnode_text(xnode_child(s->st, "body", NULL)));
}

START_TEST(lookup_and_replace)
{
	struct csm_entry	*a, *b;

	a = csmtab_add("id1", "bob@example.com/b", 3, 0);
	ck_assert_str_eq(a->bare, "bob@example.com");
	ck_assert_uint_eq(a->in, 3);
	ck_assert_ptr_eq(csmtab_by_id("id1"), a);
	ck_assert_ptr_eq(csmtab_by_full("bob@example.com/b"), a);
	ck_assert_ptr_null(csmtab_by_id("id2"));
	ck_assert_ptr_null(csmtab_by_full(NULL));
	/* The same session enables again: the new id replaces the old. */
	b = csmtab_add("id2", "bob@example.com/b", 0, 0);
	ck_assert_ptr_null(csmtab_by_id("id1"));
	ck_assert_ptr_eq(csmtab_by_full("bob@example.com/b"), b);
	ck_assert_ptr_eq(csmtab_first(), b);
	ck_assert_ptr_null(csmtab_next(b));
	csmtab_del(b);
	ck_assert_ptr_null(csmtab_first());
}
END_TEST

START_TEST(numbered_and_trimmed)
{
	struct csm_entry	*e;
	struct csm_stanza	*s;
	char			*t;
	unsigned		 i;

	e = csmtab_add("id", "bob@example.com/b", 0, 0);
	for (i = 1; i <= 10; i++)
		ck_assert_int_eq(t_push(e, i), 0);
	ck_assert_uint_eq(e->k, 10);
	ck_assert_uint_eq(e->nmirror, 10);
	ck_assert_uint_eq(csmtab_count(), 10);
	/* An ack beyond what was sent, and one going back, change nothing. */
	ck_assert_int_eq(csmtab_ack(e, 11), -1);
	ck_assert_int_eq(csmtab_ack(e, 4), 0);
	ck_assert_int_eq(csmtab_ack(e, 3), -1);
	ck_assert_uint_eq(e->acked, 4);
	ck_assert_uint_eq(e->nmirror, 6);
	s = TAILQ_FIRST(&e->mirror);
	ck_assert_uint_eq(s->h, 5);
	t = t_body(s);
	ck_assert_str_eq(t, "m 5");
	free(t);
	/* The last one's delivery is refused: not numbered after all. */
	csmtab_unpush(e);
	ck_assert_uint_eq(e->k, 9);
	ck_assert_uint_eq(TAILQ_LAST(&e->mirror, csm_stanzas)->h, 9);
	ck_assert_int_eq(csmtab_ack(e, 9), 0);
	ck_assert_uint_eq(e->nmirror, 0);
	ck_assert_uint_eq(e->mbytes, 0);
	ck_assert_uint_eq(csmtab_bytes(), 0);
	csmtab_clear();
	ck_assert_uint_eq(csmtab_count(), 0);
}
END_TEST

START_TEST(counters_wrap)
{
	struct csm_entry	*e;
	struct csm_stanza	*s;
	unsigned		 i;

	e = csmtab_add("id", "bob@example.com/b", 0, UINT32_MAX - 2);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(t_push(e, i), 0);
	ck_assert_uint_eq(e->k, 3);		/* wrapped */
	ck_assert(csmtab_h_ok(e, UINT32_MAX));
	ck_assert(csmtab_h_ok(e, 3));
	ck_assert(!csmtab_h_ok(e, 4));
	ck_assert(!csmtab_h_ok(e, UINT32_MAX - 3));
	ck_assert_int_eq(csmtab_ack(e, 0), 0);	/* 3 of 6 acknowledged */
	ck_assert_uint_eq(e->nmirror, 3);
	s = TAILQ_FIRST(&e->mirror);
	ck_assert_uint_eq(s->h, 1);
	ck_assert_int_eq(csmtab_ack(e, UINT32_MAX), -1);
	ck_assert_int_eq(csmtab_ack(e, 3), 0);
	ck_assert_uint_eq(e->nmirror, 0);
	csmtab_clear();
}
END_TEST

START_TEST(bound_per_session)
{
	struct csm_entry	*e, *o;
	unsigned		 i;

	e = csmtab_add("id", "bob@example.com/b", 0, 0);
	o = csmtab_add("id2", "bob@example.com/c", 0, 0);
	for (i = 0; i < CSMTAB_MIRROR_MAX; i++)
		ck_assert_int_eq(t_push(e, i), 0);
	ck_assert_int_eq(t_push(e, i), -1);
	ck_assert_uint_eq(e->k, CSMTAB_MIRROR_MAX);
	/* Another session still has room. */
	ck_assert_int_eq(t_push(o, 0), 0);
	/* Acknowledged: room again. */
	ck_assert_int_eq(csmtab_ack(e, 1), 0);
	ck_assert_int_eq(t_push(e, i), 0);
	csmtab_clear();
}
END_TEST

START_TEST(bound_in_all)
{
	struct csm_entry	*e[8];
	struct xnode		*n;
	char			 id[8], full[40], *big;
	size_t			 len = 256 * 1024;
	int			 i, took = 0, refused = 0;

	big = xmalloc(len + 1);
	memset(big, 'x', len);
	big[len] = '\0';
	n = xnode_new("message", NULL);
	xnode_add_text(xnode_add(n, "body", NULL), big, len);
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "i%d", i);
		snprintf(full, sizeof(full), "u%d@example.com/r", i);
		e[i] = csmtab_add(id, full, 0, 0);
	}
	/* 8 sessions of 64 stanzas of 256 KiB: 128 MiB asked, half taken. */
	for (i = 0; i < 8 * 64; i++) {
		if (csmtab_push(e[i % 8], n, len + 40) == 0)
			took++;
		else
			refused++;
	}
	ck_assert_uint_le(csmtab_bytes(), CSMTAB_MIRROR_BYTES);
	ck_assert_int_gt(took, 200);
	ck_assert_int_lt(took, 256);
	ck_assert_int_eq(took + refused, 8 * 64);
	/* One session acknowledges all: the others have room again. */
	ck_assert_int_eq(csmtab_ack(e[0], e[0]->k), 0);
	ck_assert_int_eq(csmtab_push(e[1], n, len + 40), 0);
	xnode_free(n);
	free(big);
	csmtab_clear();
	ck_assert_uint_eq(csmtab_bytes(), 0);
}
END_TEST

START_TEST(taken_out)
{
	struct csm_entry	*e;
	struct csm_stanzas	 q;
	struct csm_stanza	*s;
	int			 n = 0;

	e = csmtab_add("id", "bob@example.com/b", 0, 0);
	ck_assert_int_eq(t_push(e, 1), 0);
	ck_assert_int_eq(t_push(e, 2), 0);
	TAILQ_INIT(&q);
	csmtab_take(e, &q);
	ck_assert_uint_eq(e->nmirror, 0);
	ck_assert_uint_eq(csmtab_count(), 0);
	ck_assert_uint_eq(csmtab_bytes(), 0);
	ck_assert_uint_eq(e->k, 2);
	while ((s = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, s, entry);
		ck_assert_uint_eq(s->h, (uint32_t)++n);
		xnode_free(s->st);
		free(s);
	}
	ck_assert_int_eq(n, 2);
	csmtab_clear();
}
END_TEST

static Suite *
smtab_suite(void)
{
	Suite	*s = suite_create("cluster_smtab");
	TCase	*tc = tcase_create("smtab");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lookup_and_replace);
	tcase_add_test(tc, numbered_and_trimmed);
	tcase_add_test(tc, counters_wrap);
	tcase_add_test(tc, bound_per_session);
	tcase_add_test(tc, bound_in_all);
	tcase_add_test(tc, taken_out);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	log_init("check_cluster_smtab", 1, 0);
	return (unit_run(smtab_suite()));
}
