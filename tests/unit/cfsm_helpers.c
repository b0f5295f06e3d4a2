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
