/*
 * Helpers the unit tests of the replicated state machine share
 * (cfsm_helpers.h).
 */
#include <check.h>
#include <stdarg.h>
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
#include "unit.h"

static void	 cfsmt_log(struct cfsm_rec *, ...);
static void	 cfsmt_user_set(void *, const char *, const char *);
static void	 cfsmt_user_del(void *, const char *);
static void	 cfsmt_roster_set(void *, const char *, const char *,
		    const char *);
static void	 cfsmt_roster_del(void *, const char *, const char *);
static void	 cfsmt_changed(void *);
static void	 cfsmt_fx_quiet(struct raft_tracer *, int, const void *);
static void	 cfsmt_fx_apply_cb(struct raft_apply *, int, void *);
static bool	 cfsmt_fx_req_done(struct raft_fixture *, void *);
static bool	 cfsmt_fx_all_applied(struct raft_fixture *, void *);

/* Append the strings up to a NULL, then ";", to r's log. */
static void
cfsmt_log(struct cfsm_rec *r, ...)
{
	va_list		 ap;
	const char	*s;

	va_start(ap, r);
	while ((s = va_arg(ap, const char *)) != NULL)
		strlcat(r->log, s, sizeof(r->log));
	va_end(ap);
	strlcat(r->log, ";", sizeof(r->log));
}

/* Sink: an account was set. */
static void
cfsmt_user_set(void *arg, const char *user, const char *blob)
{
	struct cfsm_rec	*r = arg;

	r->sets++;
	cfsmt_log(r, "set ", user, "=", blob, (char *)NULL);
}

/* Sink: an account was removed. */
static void
cfsmt_user_del(void *arg, const char *user)
{
	struct cfsm_rec	*r = arg;

	r->dels++;
	cfsmt_log(r, "del ", user, (char *)NULL);
}

/* Sink: a roster item was set. */
static void
cfsmt_roster_set(void *arg, const char *owner, const char *jid,
    const char *item)
{
	struct cfsm_rec	*r = arg;

	r->rsets++;
	cfsmt_log(r, "rset ", owner, "/", jid, "=", item, (char *)NULL);
}

/* Sink: a roster item was removed. */
static void
cfsmt_roster_del(void *arg, const char *owner, const char *jid)
{
	struct cfsm_rec	*r = arg;

	r->rdels++;
	cfsmt_log(r, "rdel ", owner, "/", jid, (char *)NULL);
}

/* Sink: something changed. */
static void
cfsmt_changed(void *arg)
{
	struct cfsm_rec	*r = arg;

	r->changed++;
}

/* A state machine whose sink records into r (cleared). */
struct cfsm *
cfsmt_new_rec(struct cfsm_rec *r)
{
	struct cfsm_sink	 sink;

	memset(r, 0, sizeof(*r));
	memset(&sink, 0, sizeof(sink));
	sink.user_set = cfsmt_user_set;
	sink.user_del = cfsmt_user_del;
	sink.roster_set = cfsmt_roster_set;
	sink.roster_del = cfsmt_roster_del;
	sink.changed = cfsmt_changed;
	sink.arg = r;
	return (cfsm_new(&sink));
}

/* Hand len bytes to c's raft apply, as raft would. */
void
cfsmt_apply_raw(struct cfsm *c, const void *data, size_t len)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	 buf;
	void			*result = &buf;

	buf.base = xmalloc(len + 1);
	memcpy(buf.base, data, len);
	buf.len = len;
	ck_assert_int_eq(fsm->apply(fsm, &buf, &result), 0);
	ck_assert_ptr_null(result);
	free(buf.base);
}

/* Apply a string with its NUL, as callers that pass strlen() + 1 do. */
void
cfsmt_apply_str(struct cfsm *c, const char *s)
{
	cfsmt_apply_raw(c, s, strlen(s) + 1);
}

/* Apply a string padded to a multiple of 8 bytes, as raft wants. */
void
cfsmt_apply_padded(struct cfsm *c, const char *s)
{
	char	*p;
	size_t	 len;

	len = (strlen(s) + 8) & ~(size_t)7;
	p = xcalloc(1, len);
	memcpy(p, s, strlen(s));
	cfsmt_apply_raw(c, p, len);
	free(p);
}

/* Apply an encoded entry (must not be NULL) without its NUL; free it. */
void
cfsmt_apply_entry(struct cfsm *c, char *s)
{
	ck_assert_ptr_nonnull(s);
	cfsmt_apply_raw(c, s, strlen(s));
	free(s);
}

/* c's snapshot as a string: equal strings, equal state. */
char *
cfsmt_snap_text(struct cfsm *c)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	*bufs = NULL;
	unsigned		 n = 0;
	char			*s;

	ck_assert_int_eq(fsm->snapshot(fsm, &bufs, &n), 0);
	ck_assert_uint_eq(n, 1);
	s = xstrndup(bufs[0].base, bufs[0].len);
	ck_assert_uint_eq(strlen(s), bufs[0].len);
	raft_free(bufs[0].base);
	raft_free(bufs);
	return (s);
}

/* Restore c from text: raft's status (0 on success). */
int
cfsmt_restore(struct cfsm *c, const char *text)
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

/*
 * Restore b from a's snapshot as raft hands it over: the buffer itself,
 * which restore then owns.
 */
void
cfsmt_transfer(struct cfsm *a, struct cfsm *b)
{
	struct raft_fsm		*fa = cfsm_raft(a), *fb = cfsm_raft(b);
	struct raft_buffer	*bufs = NULL;
	unsigned		 n = 0;

	ck_assert_int_eq(fa->snapshot(fa, &bufs, &n), 0);
	ck_assert_uint_eq(n, 1);
	/* On success restore owns (and frees) the data, not the array. */
	ck_assert_int_eq(fb->restore(fb, &bufs[0]), 0);
	raft_free(bufs);
}

/* Run suite s, logging to stderr as name: EXIT_SUCCESS if all passed. */
int
cfsmt_main(const char *name, Suite *s)
{
	log_init(name, 1, 0);
	return (unit_run(s));
}

/* libraft's trace, silenced unless CHECK_RAFT_TRACE is set. */
static struct raft_tracer cfsmt_fx_tracer = { NULL, 2, cfsmt_fx_quiet };

/* A tracer that drops everything. */
static void
cfsmt_fx_quiet(struct raft_tracer *t, int type, const void *info)
{
	(void)t;
	(void)type;
	(void)info;
}

/* Start n servers, one state machine each, and elect a leader. */
void
cfsmt_fx_up(struct cfsmt_fx *x, int n)
{
	struct raft_configuration	 conf;
	int				 i;

	memset(x, 0, sizeof(*x));
	ck_assert_int_eq(raft_fixture_init(&x->f), 0);
	for (i = 0; i < n; i++)
		cfsmt_fx_grow(x);
	ck_assert_int_eq(raft_fixture_configuration(&x->f, n, &conf), 0);
	ck_assert_int_eq(raft_fixture_bootstrap(&x->f, &conf), 0);
	raft_configuration_close(&conf);
	ck_assert_int_eq(raft_fixture_start(&x->f), 0);
	ck_assert(raft_fixture_step_until_has_leader(&x->f, CFSMT_FX_MSECS));
}

/* Stop the cluster and free every state machine. */
void
cfsmt_fx_down(struct cfsmt_fx *x)
{
	int	 i;

	raft_fixture_close(&x->f);
	for (i = 0; i < x->n; i++)
		cfsm_free(x->c[i]);
}

/*
 * Add a server (id n + 1, address "n + 1") that snapshots often, so one
 * that joins late catches up by a snapshot. Returns its index.
 */
int
cfsmt_fx_grow(struct cfsmt_fx *x)
{
	struct raft	*r;
	int		 i = x->n;

	ck_assert_int_lt(i, CFSMT_FX_MAX);
	x->c[i] = cfsmt_new_rec(&x->rec[i]);
	ck_assert_int_eq(raft_fixture_grow(&x->f, cfsm_raft(x->c[i])), 0);
	x->n++;
	r = raft_fixture_get(&x->f, i);
	raft_set_snapshot_threshold(r, 4);
	raft_set_snapshot_trailing(r, 1);
	if (getenv("CHECK_RAFT_TRACE") == NULL)
		r->tracer = &cfsmt_fx_tracer;
	return (i);
}

/* The leader's index. */
unsigned
cfsmt_fx_leader(struct cfsmt_fx *x)
{
	unsigned	 i;

	i = raft_fixture_leader_index(&x->f);
	ck_assert_uint_lt(i, raft_fixture_n(&x->f));
	return (i);
}

/* raft_apply's callback. */
static void
cfsmt_fx_apply_cb(struct raft_apply *apply, int status, void *result)
{
	struct cfsmt_req	*q = apply->data;

	(void)result;
	q->status = status;
	q->done = 1;
}

/* raft_add, raft_assign and raft_remove's callback. */
void
cfsmt_fx_change_cb(struct raft_change *change, int status)
{
	struct cfsmt_req	*q = change->data;

	q->status = status;
	q->done = 1;
}

/* Whether a request's callback ran. */
static bool
cfsmt_fx_req_done(struct raft_fixture *f, void *arg)
{
	struct cfsmt_req	*q = arg;

	(void)f;
	return (q->done);
}

/* Whether every live server has applied up to the leader's last entry. */
static bool
cfsmt_fx_all_applied(struct raft_fixture *f, void *arg)
{
	raft_index	*index = arg;
	unsigned	 i;

	for (i = 0; i < raft_fixture_n(f); i++) {
		if (raft_fixture_alive(f, i) &&
		    raft_last_applied(raft_fixture_get(f, i)) < *index)
			return (false);
	}
	return (true);
}

/* Run a request to its callback, which must report success. */
void
cfsmt_fx_wait(struct cfsmt_fx *x, struct cfsmt_req *q)
{
	ck_assert(raft_fixture_step_until(&x->f, cfsmt_fx_req_done, q,
	    CFSMT_FX_MSECS));
	ck_assert_int_eq(q->status, 0);
}

/* Apply buf (raft takes it) on the leader and wait until all applied it. */
void
cfsmt_fx_apply_buf(struct cfsmt_fx *x, struct raft_buffer *buf)
{
	struct raft		*leader;
	struct cfsmt_req	 q;
	raft_index		 index;

	leader = raft_fixture_get(&x->f, cfsmt_fx_leader(x));
	memset(&q, 0, sizeof(q));
	q.u.apply.data = &q;
	ck_assert_int_eq(raft_apply(leader, &q.u.apply, buf, 1,
	    cfsmt_fx_apply_cb), 0);
	cfsmt_fx_wait(x, &q);
	index = raft_last_index(leader);
	ck_assert(raft_fixture_step_until(&x->f, cfsmt_fx_all_applied, &index,
	    CFSMT_FX_MSECS));
}

/* Add id at addr through the leader and make it a voter. */
void
cfsmt_fx_add_voter(struct cfsmt_fx *x, uint64_t id, const char *addr)
{
	struct raft		*leader;
	struct cfsmt_req	 q;

	leader = raft_fixture_get(&x->f, cfsmt_fx_leader(x));
	memset(&q, 0, sizeof(q));
	q.u.change.data = &q;
	ck_assert_int_eq(raft_add(leader, &q.u.change, id, addr,
	    cfsmt_fx_change_cb), 0);
	cfsmt_fx_wait(x, &q);
	memset(&q, 0, sizeof(q));
	q.u.change.data = &q;
	ck_assert_int_eq(raft_assign(leader, &q.u.change, id, RAFT_VOTER,
	    cfsmt_fx_change_cb), 0);
	cfsmt_fx_wait(x, &q);
}

/* Every live server's state machine holds the same state. */
void
cfsmt_fx_agree(struct cfsmt_fx *x)
{
	char	*first = NULL, *s;
	int	 i;

	for (i = 0; i < x->n; i++) {
		if (!raft_fixture_alive(&x->f, i))
			continue;
		s = cfsmt_snap_text(x->c[i]);
		if (first == NULL)
			first = s;
		else {
			ck_assert_str_eq(s, first);
			free(s);
		}
	}
	ck_assert_ptr_nonnull(first);
	free(first);
}
