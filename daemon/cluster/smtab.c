/*
 * The leader's table of stream-management sessions anywhere in the
 * cluster (see smtab.h and smlead.c): by resumption id and by full JID.
 * Each entry counts what its session was sent (k, which equals the
 * outbound h its node's core counts, since every stanza to a follower's
 * SM session goes through the leader as a numbered <d>) and keeps a copy
 * of each stanza its client has not acknowledged, so that the session
 * can resume on any node, also after its own died. Counters are 32-bit
 * and wrap (XEP-0198 section 4): k - acked is the mirror's length.
 */
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xml/xml.h"
#include "xmalloc.h"
#include "cluster/smtab.h"

#define CSMTAB_NODE_BYTES	128	/* an element or text of a copy */

static int	 csmtab_id_cmp(struct csm_entry *, struct csm_entry *);
static int	 csmtab_full_cmp(struct csm_entry *, struct csm_entry *);
static void	 csmtab_stanza_free(struct csm_entry *, struct csm_stanza *);

RB_HEAD(csm_ids, csm_entry);
RB_HEAD(csm_fulls, csm_entry);
RB_PROTOTYPE(csm_ids, csm_entry, byid, csmtab_id_cmp);
RB_PROTOTYPE(csm_fulls, csm_entry, byfull, csmtab_full_cmp);
RB_GENERATE(csm_ids, csm_entry, byid, csmtab_id_cmp);
RB_GENERATE(csm_fulls, csm_entry, byfull, csmtab_full_cmp);

static struct csm_ids	 ids = RB_INITIALIZER(&ids);
static struct csm_fulls	 fulls = RB_INITIALIZER(&fulls);
static size_t		 nall;		/* stanzas mirrored in all */
static size_t		 allbytes;	/* and their bytes */

/* Order entries by id. */
static int
csmtab_id_cmp(struct csm_entry *a, struct csm_entry *b)
{
	return (strcmp(a->id, b->id));
}

/* Order entries by full JID. */
static int
csmtab_full_cmp(struct csm_entry *a, struct csm_entry *b)
{
	return (strcmp(a->full, b->full));
}

/*
 * A new entry for session full with resumption id, inbound count in and
 * outbound count k (nothing acknowledged beyond k, nothing mirrored); an
 * entry of the same id or session goes first.
 */
struct csm_entry *
csmtab_add(const char *id, const char *full, uint32_t in, uint32_t k)
{
	struct csm_entry	*e;
	const char		*slash;

	if ((e = csmtab_by_id(id)) != NULL)
		csmtab_del(e);
	if ((e = csmtab_by_full(full)) != NULL)
		csmtab_del(e);
	e = xcalloc(1, sizeof(*e));
	e->id = xstrdup(id);
	e->full = xstrdup(full);
	slash = strchr(full, '/');
	e->bare = slash != NULL ? xstrndup(full, slash - full) :
	    xstrdup(full);
	e->in = in;
	e->k = e->acked = k;
	TAILQ_INIT(&e->mirror);
	RB_INSERT(csm_ids, &ids, e);
	RB_INSERT(csm_fulls, &fulls, e);
	return (e);
}

/* The entry of a resumption id, or NULL. */
struct csm_entry *
csmtab_by_id(const char *id)
{
	struct csm_entry	 key;

	if (id == NULL)
		return (NULL);
	key.id = (char *)(uintptr_t)id;
	return (RB_FIND(csm_ids, &ids, &key));
}

/* The entry of a session by its full JID, or NULL. */
struct csm_entry *
csmtab_by_full(const char *full)
{
	struct csm_entry	 key;

	if (full == NULL)
		return (NULL);
	key.full = (char *)(uintptr_t)full;
	return (RB_FIND(csm_fulls, &fulls, &key));
}

/* Free one mirrored stanza of e. */
static void
csmtab_stanza_free(struct csm_entry *e, struct csm_stanza *s)
{
	TAILQ_REMOVE(&e->mirror, s, entry);
	e->nmirror--;
	e->mbytes -= s->bytes;
	nall--;
	allbytes -= s->bytes;
	xnode_free(s->st);
	free(s);
}

/* Remove and free an entry and what it mirrors. */
void
csmtab_del(struct csm_entry *e)
{
	struct csm_stanza	*s;

	if (e == NULL)
		return;
	while ((s = TAILQ_FIRST(&e->mirror)) != NULL)
		csmtab_stanza_free(e, s);
	RB_REMOVE(csm_ids, &ids, e);
	RB_REMOVE(csm_fulls, &fulls, e);
	xnode_free(e->presence);
	free(e->id);
	free(e->bare);
	free(e->full);
	free(e);
}

/* The first entry (by id), or NULL. */
struct csm_entry *
csmtab_first(void)
{
	return (RB_MIN(csm_ids, &ids));
}

/* The entry after e (by id), or NULL. */
struct csm_entry *
csmtab_next(struct csm_entry *e)
{
	return (RB_NEXT(csm_ids, &ids, e));
}

/*
 * Number stanza n k+1 for e and keep a copy until its client
 * acknowledges it; len is n's serialised length if the caller knows it.
 * Beyond CSMTAB_MIRROR_MAX for the session or CSMTAB_MIRROR_BYTES in all,
 * -1: not numbered, not kept (the caller refuses the stanza).
 */
int
csmtab_push(struct csm_entry *e, const struct xnode *n, size_t len)
{
	struct csm_stanza	*s;
	size_t			 bytes;
	char			*str;

	if (len == 0 && (str = xnode_string(n, &len)) != NULL)
		free(str);
	bytes = sizeof(*s) + len + xnode_count(n) * CSMTAB_NODE_BYTES;
	if (e->nmirror >= CSMTAB_MIRROR_MAX ||
	    allbytes + bytes > CSMTAB_MIRROR_BYTES)
		return (-1);
	s = xcalloc(1, sizeof(*s));
	s->h = ++e->k;
	s->st = xnode_copy(n);
	s->bytes = bytes;
	TAILQ_INSERT_TAIL(&e->mirror, s, entry);
	e->nmirror++;
	e->mbytes += bytes;
	nall++;
	allbytes += bytes;
	return (0);
}

/* Forget the last stanza pushed: its delivery was refused after all. */
void
csmtab_unpush(struct csm_entry *e)
{
	struct csm_stanza	*s;

	if ((s = TAILQ_LAST(&e->mirror, csm_stanzas)) == NULL ||
	    s->h != e->k)
		return;
	csmtab_stanza_free(e, s);
	e->k--;
}

/* Whether h is between e's last ack and k, in 2^32 arithmetic. */
int
csmtab_h_ok(const struct csm_entry *e, uint32_t h)
{
	return ((uint32_t)(h - e->acked) <= (uint32_t)(e->k - e->acked));
}

/*
 * The client of e acknowledged every stanza up to h: forget their
 * copies. -1 if h is before the last ack or beyond k: nothing changes.
 */
int
csmtab_ack(struct csm_entry *e, uint32_t h)
{
	struct csm_stanza	*s;

	if (!csmtab_h_ok(e, h))
		return (-1);
	while ((s = TAILQ_FIRST(&e->mirror)) != NULL &&
	    (uint32_t)(s->h - e->acked) <= (uint32_t)(h - e->acked))
		csmtab_stanza_free(e, s);
	e->acked = h;
	return (0);
}

/*
 * Move e's mirror onto q (empty and initialised), the caller's to free
 * (each stanza's copy and itself): e's copies no longer count.
 */
void
csmtab_take(struct csm_entry *e, struct csm_stanzas *q)
{
	TAILQ_CONCAT(q, &e->mirror, entry);
	nall -= e->nmirror;
	allbytes -= e->mbytes;
	e->nmirror = 0;
	e->mbytes = 0;
}

/* Stanzas mirrored in all. */
size_t
csmtab_count(void)
{
	return (nall);
}

/* What the mirrored stanzas take, in all. */
size_t
csmtab_bytes(void)
{
	return (allbytes);
}

/* Forget every entry (stepping down, or at exit). */
void
csmtab_clear(void)
{
	struct csm_entry	*e;

	while ((e = csmtab_first()) != NULL)
		csmtab_del(e);
}
