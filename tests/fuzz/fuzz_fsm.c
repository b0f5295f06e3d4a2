/*
 * Fuzz target: the cluster's replicated state machine (daemon/
 * cluster/fsm*.c) as raft hands it log entries and snapshots, which a
 * member of the cluster (or whoever gets hold of its link) wrote.
 *
 * Input: byte 0 picks what the rest is: 0, entries, one a line, each
 * applied as raft's apply would (without the '\n'); 1, a snapshot to
 * restore; 2, roster items (the fourth field of roster-set), one a line.
 *
 * Invariants: the state's snapshot restores into a new state machine
 * whose snapshot is the same bytes; a roster item that decodes encodes
 * back to the same text (the decoder takes exactly what the encoder
 * writes); the sink never hears NULL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/fsm.h"
#include "db.h"
#include "fuzz.h"
#include "util.h"

static void	 ff_user_set(void *, const char *, const char *);
static void	 ff_user_del(void *, const char *);
static void	 ff_roster_set(void *, const char *, const char *,
		    const char *);
static void	 ff_roster_del(void *, const char *, const char *);
static void	 ff_changed(void *);
static void	 ff_snapshot(struct cfsm *, char **, size_t *);
static int	 ff_restore(struct cfsm *, const void *, size_t);
static void	 ff_roster(const char *);
static void	 ff_check(struct cfsm *);

static const struct cfsm_sink ff_sink = {
	ff_user_set, ff_user_del, ff_roster_set, ff_roster_del, ff_changed,
	NULL
};

/* The sink: arguments are never NULL. */
static void
ff_user_set(void *arg, const char *user, const char *blob)
{
	(void)arg;
	FUZZ_ASSERT(user != NULL && blob != NULL);
}

/* As ff_user_set. */
static void
ff_user_del(void *arg, const char *user)
{
	(void)arg;
	FUZZ_ASSERT(user != NULL);
}

/* As ff_user_set; the item decodes. */
static void
ff_roster_set(void *arg, const char *owner, const char *jid,
    const char *item)
{
	(void)arg;
	FUZZ_ASSERT(owner != NULL && jid != NULL && item != NULL);
	ff_roster(item);
}

/* As ff_user_set. */
static void
ff_roster_del(void *arg, const char *owner, const char *jid)
{
	(void)arg;
	FUZZ_ASSERT(owner != NULL && jid != NULL);
}

/* Nothing to check. */
static void
ff_changed(void *arg)
{
	(void)arg;
}

/* The state as raft's snapshot writes it, in one allocated buffer. */
static void
ff_snapshot(struct cfsm *c, char **text, size_t *len)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	*bufs = NULL;
	unsigned		 n = 0;

	FUZZ_ASSERT(fsm->snapshot(fsm, &bufs, &n) == 0 && n == 1);
	*len = bufs[0].len;
	*text = malloc(*len + 1);
	FUZZ_ASSERT(*text != NULL);
	memcpy(*text, bufs[0].base, *len);
	(*text)[*len] = '\0';
	raft_free(bufs[0].base);
	raft_free(bufs);
}

/* Restore len bytes as raft would: the buffer is the fsm's on success. */
static int
ff_restore(struct cfsm *c, const void *data, size_t len)
{
	struct raft_fsm		*fsm = cfsm_raft(c);
	struct raft_buffer	 buf;
	int			 rc;

	buf.len = len;
	buf.base = raft_malloc(len == 0 ? 1 : len);
	FUZZ_ASSERT(buf.base != NULL);
	memcpy(buf.base, data, len);
	if ((rc = fsm->restore(fsm, &buf)) != 0)
		raft_free(buf.base);
	return (rc);
}

/* A roster item that decodes is exactly what the encoder writes. */
static void
ff_roster(const char *item)
{
	struct db_roster	 r;
	char			*again;

	if (cfsm_roster_dec(item, &r) == -1)
		return;
	again = cfsm_roster_enc(&r);
	FUZZ_ASSERT(again != NULL && strcmp(again, item) == 0);
	free(again);
	free(r.name);
	free(r.subscription);
	free(r.groups);
	free(r.jid);
}

/* The snapshot of c survives a restore into a new machine unchanged. */
static void
ff_check(struct cfsm *c)
{
	struct cfsm	*d;
	char		*a, *b, **users;
	size_t		 alen, blen;
	int		 n;

	users = cfsm_users(c, &n);
	util_free_argv(users, n);
	(void)cfsm_domain(c);
	ff_snapshot(c, &a, &alen);
	d = cfsm_new(&ff_sink);
	FUZZ_ASSERT(ff_restore(d, a, alen) == 0);
	ff_snapshot(d, &b, &blen);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	cfsm_free(d);
	free(a);
	free(b);
}

/* One input: see the comment at the top. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_fsm		*fsm;
	struct raft_buffer	 buf;
	struct cfsm		*c;
	const uint8_t		*p, *nl, *end = data + size;
	void			*result;
	char			*line;

	if (size < 1)
		return (0);
	c = cfsm_new(&ff_sink);
	fsm = cfsm_raft(c);
	switch (data[0] % 3) {
	case 0:
		for (p = data + 1; p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', end - p)) == NULL)
				nl = end;
			/* raft's buffers are allocated; let ASan see ends. */
			buf.len = nl - p;
			buf.base = malloc(buf.len == 0 ? 1 : buf.len);
			FUZZ_ASSERT(buf.base != NULL);
			memcpy(buf.base, p, buf.len);
			result = &buf;
			FUZZ_ASSERT(fsm->apply(fsm, &buf, &result) == 0);
			FUZZ_ASSERT(result == NULL);
			free(buf.base);
		}
		break;
	case 1:
		(void)ff_restore(c, data + 1, size - 1);
		break;
	case 2:
		for (p = data + 1; p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', end - p)) == NULL)
				nl = end;
			line = strndup((const char *)p, nl - p);
			FUZZ_ASSERT(line != NULL);
			ff_roster(line);
			free(line);
		}
		break;
	}
	ff_check(c);
	cfsm_free(c);
	return (0);
}
