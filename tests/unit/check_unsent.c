/*
 * Unit tests for daemon/xmpp/unsent.c, what a stream was given to send
 * and has not written: a message or iq request leaves a note, presence,
 * errors and results do not; notes of what was written are forgotten;
 * a stream buried with output unwritten answers each stanza not wholly
 * written to its sender (recipient-unavailable, type wait, its id kept),
 * routed from the stream; an idle stream gives its notes back. The
 * router is stubbed: what is routed is kept here.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"
#include "unit.h"

#define ROUTED_MAX	16

static struct xnode	*routed[ROUTED_MAX];
static struct xconn	*routed_from[ROUTED_MAX];
static int		 nrouted;

/* Stub: keep a copy of what the stream routes. */
void
router_route(struct xconn *from, struct xnode *n)
{
	ck_assert_int_lt(nrouted, ROUTED_MAX);
	routed_from[nrouted] = from;
	routed[nrouted++] = xnode_copy(n);
}

/* Forget what was routed. */
static void
t_reset(void)
{
	while (nrouted > 0)
		xnode_free(routed[--nrouted]);
}

/* A stanza name from 'f' to 't' with id and type (each may be NULL). */
static struct xnode *
t_stanza(const char *name, const char *type, const char *id)
{
	struct xnode	*n;

	n = xnode_new(name, NULL);
	xnode_set_attr(n, "from", "alice@example.com/a");
	xnode_set_attr(n, "to", "bob@example.com/b");
	if (id != NULL)
		xnode_set_attr(n, "id", id);
	if (type != NULL)
		xnode_set_attr(n, "type", type);
	xnode_add(xnode_add(n, "body", NULL), "x", NULL);
	return (n);
}

/* Note a stanza, ending at end with done written, and free it. */
static void
t_note(struct xconn *c, const char *name, const char *type, const char *id,
    uint64_t end, uint64_t done)
{
	struct xnode	*n = t_stanza(name, type, id);

	xunsent_note(c, n, end, done);
	xnode_free(n);
}

/* The defined condition and type of error stanza r. */
static void
t_is_error(const struct xnode *r, const char *name, const char *id)
{
	const struct xnode	*e;

	ck_assert_str_eq(xnode_name(r), name);
	ck_assert_str_eq(xnode_attr(r, "type"), "error");
	ck_assert_str_eq(xnode_attr(r, "to"), "alice@example.com/a");
	ck_assert_str_eq(xnode_attr(r, "from"), "bob@example.com/b");
	ck_assert_str_eq(xnode_attr(r, "id"), id);
	for (e = xnode_first(r); e != NULL; e = xnode_next(e))
		if (strcmp(xnode_name(e), "error") == 0)
			break;
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(xnode_attr(e, "type"), "wait");
	ck_assert_str_eq(xnode_name(xnode_first(e)), "recipient-unavailable");
	ck_assert_str_eq(xnode_ns(xnode_first(e)), NS_STANZA_ERR);
}

START_TEST(answers_what_was_not_written)
{
	struct xconn	 c;

	memset(&c, 0, sizeof(c));
	t_note(&c, "message", "chat", "m1", 100, 0);
	t_note(&c, "presence", NULL, "p1", 150, 0);
	t_note(&c, "message", "error", "e1", 160, 0);
	t_note(&c, "iq", "result", "r1", 170, 0);
	t_note(&c, "iq", "get", "q1", 200, 0);
	t_note(&c, "message", NULL, "m2", 300, 0);
	/* m1 written; q1 partly (a cut stanza is lost too); m2 not at all. */
	ck_assert_uint_eq(xunsent_answer(&c, 150), 2);
	ck_assert_ptr_null(c.unsent);
	ck_assert_int_eq(nrouted, 2);
	ck_assert_ptr_eq(routed_from[0], &c);
	t_is_error(routed[0], "iq", "q1");
	t_is_error(routed[1], "message", "m2");
	t_reset();
}
END_TEST

START_TEST(written_is_forgotten)
{
	struct xconn	 c;
	uint64_t	 end = 0;
	char		 id[32];
	int		 i;

	memset(&c, 0, sizeof(c));
	/* Already written when noted: no note at all. */
	t_note(&c, "message", "chat", "w", 10, 10);
	ck_assert_ptr_null(c.unsent);
	/* A long stream whose output keeps draining: the buffer stays small. */
	for (i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		end += 500;
		t_note(&c, "message", "chat", id, end, end - 1000);
	}
	ck_assert_ptr_nonnull(c.unsent);
	ck_assert_uint_eq(xunsent_answer(&c, end), 0);
	ck_assert_int_eq(nrouted, 0);
	/* An idle stream with everything written gives its notes back. */
	t_note(&c, "message", "chat", "i1", end + 100, end);
	xunsent_idle(&c, end);
	ck_assert_ptr_nonnull(c.unsent);
	xunsent_idle(&c, end + 100);
	ck_assert_ptr_null(c.unsent);
	t_note(&c, "message", "chat", "i2", end + 200, end + 100);
	xunsent_free(&c);
	ck_assert_ptr_null(c.unsent);
	xunsent_free(&c);
}
END_TEST

START_TEST(no_sender_no_note)
{
	struct xconn	 c;
	struct xnode	*n;

	memset(&c, 0, sizeof(c));
	n = xnode_new("message", NULL);
	xnode_set_attr(n, "to", "bob@example.com/b");
	xunsent_note(&c, n, 100, 0);
	xnode_free(n);
	ck_assert_ptr_null(c.unsent);
	ck_assert_uint_eq(xunsent_answer(&c, 0), 0);
}
END_TEST

static Suite *
unsent_suite(void)
{
	Suite	*s = suite_create("unsent");
	TCase	*tc = tcase_create("unsent");

	tcase_add_test(tc, answers_what_was_not_written);
	tcase_add_test(tc, written_is_forgotten);
	tcase_add_test(tc, no_sender_no_note);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	log_init("check_unsent", 1, 0);
	return (unit_run(unsent_suite()));
}
