/*
 * Forwarding in a cluster: the leader's <d> frames to a follower (see
 * follower.c for the whole). A frame is numbered for the follower's
 * process, not for its link, and kept until that follower acknowledges
 * it with <dack n>: a link cut with frames in its buffers (a TCP reset,
 * a peer that reads too slowly, a <dack> that stalls) loses none. The
 * leader's stream header names the numbering (its epoch attribute); the
 * next link of the same process takes over the numbers and the frames
 * kept, which go out again, and the follower drops the numbers it has
 * delivered already. A follower whose process is gone takes its frames
 * with it, as a client's closed socket does.
 *
 * Beyond CRELAY_KEEP_MAX frames or CRELAY_KEEP_BYTES kept for one
 * follower, a stanza for it is not sent but answered to its sender with
 * a resource-constraint error (type wait); presence and errors are not
 * answered, as RFC 6120 8.3.1 has it, and are dropped and counted;
 * but an unavailable presence is kept beyond the bounds, up to
 * CRELAY_KEEP_GONE frames and CRELAY_GONE_BYTES more, or its receiver
 * would show a stale available presence for good. What a follower that
 * is gone for good never acknowledged is answered with
 * recipient-unavailable.
 *
 * A frame of a stanza of this node's own (routed by cfwd_route_local)
 * keeps that stanza as it was routed: if we step down before its
 * follower acknowledges it, no follower sends it again, so it goes to
 * our queue for the next leader under its number (crelay_requeue).
 *
 * When its recipient registers again on another node (or here), what a
 * follower kept for it is answered to the senders with
 * recipient-unavailable and emptied (crelay_moved): sent again once that
 * follower links, it would come back (nobody there) and be routed to the
 * new place behind what came meanwhile, out of order.
 *
 * A frame made while a forwarded stanza is routed names its origin
 * (oe: the follower process, os: its <s> number, op: the routing pass):
 * the follower delivers each origin's stanza once, even when a leader
 * died before the sender's node heard it was done and the next leader
 * routes it again (link.c, clink_origin_new).
 */
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "log.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"
#include "cluster/smtab.h"

#define CRELAY_KEEP_MAX		4096	/* <d> frames kept per follower */
#define CRELAY_KEEP_BYTES	(16 * 1024 * 1024)	/* and their bytes */
#define CRELAY_KEEP_GONE	64	/* unavailable presences beyond */
#define CRELAY_GONE_BYTES	(256 * 1024)	/* and their bytes */

/* A <d> frame kept until its follower acknowledges it. */
struct crelay_frame {
	TAILQ_ENTRY(crelay_frame) entry;
	uint64_t		 n;
	char			*s;		/* <d n to>stanza</d> */
	size_t			 len;
	int			 kind;		/* of the recipient */
	char			*to;		/* its full JID or domain */
	struct xnode		*st;		/* a copy of the stanza */
	size_t			 bytes;		/* all it takes */
	int			 written;	/* on a link */
	int			 copy;		/* <d m>: a copy, not to deliver */
	/* of a stanza of ours (NULL: another node's, or none) */
	struct xnode		*ost;		/* as routed */
	char			*ofrom;		/* its sender */
	int			 okind;
	uint64_t		 oseq;
};

static uint64_t		 nrefused;

static void	 crelay_refuse(struct cfwd_link *, struct xconn *,
		    const struct xnode *);
static struct xnode *crelay_error(const struct xnode *, const char *);
static void	 crelay_frame_free(struct crelay_frame *);
static int	 crelay_gone_presence(const struct xnode *);

/* A new numbering of <d> frames for the follower process of link l. */
void
crelay_new(struct cfwd_link *l)
{
	crelay_clear(l);
	l->dbox = 0;
	while (l->dbox == 0)
		arc4random_buf(&l->dbox, sizeof(l->dbox));
	l->dbox &= UINT64_MAX >> 1;	/* decimal, unsigned, for clink_num */
	if (l->dbox == 0)
		l->dbox = 1;
	l->dsent = l->dacked = 0;
}

/*
 * xconn_send to a pseudo: a <d> frame to its node, numbered and kept
 * until acknowledged; written now unless the link is lost (a holder),
 * when it goes out with the next link of that node's process, or that
 * next link has not said yet which sessions came back (its <synced/>).
 */
void
cfwd_send(struct xconn *c, const struct xnode *n)
{
	struct cfwd_link	*l = c->remote;
	const struct cfwd_origin *o = cpseudo_origin();
	struct crelay_frame	*fr;
	struct xnode		*f;
	const char		*to;
	char			*s;
	size_t			 len, bytes;
	uint32_t		 k;
	int			 sm;

	if (l == NULL || c->closing)
		return;
	if (csm_hibernating(c)) {
		/* Its node is gone: mirrored only, for its resumption (once:
		 * one a dead leader copied to us comes again, replayed). */
		if (o != NULL && !clink_origin_new(o, c->full))
			return;
		if (csm_lead_send(c, n, 0, &k) == -1)
			crelay_refuse(l, c, n);
		else
			clead_copy_all(c->full, k, n);	/* for the next leader */
		return;
	}
	if (l->dead)
		return;
	to = c->kind == XC_CLIENT ? c->full : c->cdomain;
	f = clink_frame("d", "to", to);
	clink_set_num(f, "n", l->dsent + 1);
	if (o != NULL) {
		clink_set_num(f, "oe", o->epoch);
		clink_set_num(f, "os", o->seq);
		clink_set_num(f, "op", o->pass);
	}
	if ((sm = csm_lead_next(c, &k)))
		clink_set_num(f, "k", k);	/* its SM number */
	clink_add_stanza(f, n);
	s = clink_frame_string(f, &len);
	bytes = sizeof(*fr) + len + 1 + strlen(to) + 1 +
	    clink_tree_bytes(n, len);
	if (o != NULL && o->from != NULL)
		bytes += strlen(o->from) + 1 + clink_tree_bytes(o->st, len);
	if ((l->nkept >= CRELAY_KEEP_MAX ||
	    l->keptbytes + bytes > CRELAY_KEEP_BYTES) &&
	    (!crelay_gone_presence(n) ||
	    l->nkept >= CRELAY_KEEP_MAX + CRELAY_KEEP_GONE ||
	    l->keptbytes + bytes > CRELAY_KEEP_BYTES + CRELAY_GONE_BYTES)) {
		free(s);
		crelay_refuse(l, c, n);
		return;
	}
	if (sm && csm_lead_send(c, n, len, &k) == -1) {
		free(s);
		crelay_refuse(l, c, n);
		return;
	}
	fr = xcalloc(1, sizeof(*fr));
	fr->n = ++l->dsent;
	fr->s = s;
	fr->len = len;
	fr->kind = c->kind;
	fr->to = xstrdup(to);
	fr->st = xnode_copy(n);
	fr->bytes = bytes;
	if (o != NULL && o->from != NULL) {
		fr->ost = xnode_copy(o->st);
		fr->ofrom = xstrdup(o->from);
		fr->okind = o->kind;
		fr->oseq = o->seq;
	}
	TAILQ_INSERT_TAIL(&l->kept, fr, entry);
	l->nkept++;
	l->keptbytes += fr->bytes;
	if (l->holder || l->broken || l->relinked)
		return;
	clink_write(l, s, len);
	fr->written = 1;
	clead_dmark(l);
}

/*
 * A copy for l's node of stanza n (borrowed), number h of our own SM
 * session to: a <d m='h'> frame, numbered and kept like any until
 * acknowledged (so the <ack> of its sender waits for it), which the
 * follower keeps for the session instead of delivering it. Beyond the
 * bounds it is not kept (logged): that follower misses it.
 */
void
crelay_copy(struct cfwd_link *l, const char *to, uint32_t h,
    const struct xnode *n)
{
	const struct cfwd_origin *o = cpseudo_origin();
	struct crelay_frame	*fr;
	struct xnode		*f;
	char			*s;
	size_t			 len, bytes;

	if (l->dead && !l->holder)
		return;
	f = clink_frame("d", "to", to);
	clink_set_num(f, "n", l->dsent + 1);
	clink_set_num(f, "m", h);
	if (o != NULL) {
		clink_set_num(f, "oe", o->epoch);
		clink_set_num(f, "os", o->seq);
		clink_set_num(f, "op", o->pass);
	}
	clink_add_stanza(f, n);
	s = clink_frame_string(f, &len);
	bytes = sizeof(*fr) + len + 1 + strlen(to) + 1;
	if (l->nkept >= CRELAY_KEEP_MAX ||
	    l->keptbytes + bytes > CRELAY_KEEP_BYTES) {
		log_warnx("crelay_copy: %s keeps %zu frames: no copy of %s's "
		    "stanza %u", l->addr, l->nkept, to, h);
		free(s);
		return;
	}
	fr = xcalloc(1, sizeof(*fr));
	fr->n = ++l->dsent;
	fr->s = s;
	fr->len = len;
	fr->kind = XC_CLIENT;
	fr->to = xstrdup(to);
	fr->bytes = bytes;
	fr->copy = 1;
	TAILQ_INSERT_TAIL(&l->kept, fr, entry);
	l->nkept++;
	l->keptbytes += fr->bytes;
	if (l->holder || l->broken || l->relinked)
		return;
	clink_write(l, s, len);
	fr->written = 1;
	clead_dmark(l);
}

/* Whether stanza n is an unavailable presence. */
static int
crelay_gone_presence(const struct xnode *n)
{
	const char	*type = xnode_attr(n, "type");

	return (strcmp(xnode_name(n), "presence") == 0 && type != NULL &&
	    strcmp(type, "unavailable") == 0);
}

/*
 * A stanza for c that its node has no room for: answered to its sender
 * with an error from c, unless it is presence, an error or a result.
 */
static void
crelay_refuse(struct cfwd_link *l, struct xconn *c, const struct xnode *n)
{
	struct xnode	*r;

	nrefused++;
	if (l->refused++ == 0)
		log_warnx("cfwd_send: %s keeps %zu frames (%zu bytes) "
		    "unacknowledged; refusing stanzas for it (%llu so far)",
		    l->addr, l->nkept, l->keptbytes,
		    (unsigned long long)nrefused);
	if ((r = crelay_error(n, "resource-constraint")) == NULL)
		return;
	router_route(c, r);
	xnode_free(r);
}

/*
 * The error (of type wait, condition cond) that answers stanza n to its
 * sender, from its recipient; NULL for presence, errors and results,
 * which are not answered.
 */
static struct xnode *
crelay_error(const struct xnode *n, const char *cond)
{
	const char	*name = xnode_name(n), *type = xnode_attr(n, "type");
	const char	*from = xnode_attr(n, "from"), *v;
	struct xnode	*r, *e, *k;

	if (from == NULL || strcmp(name, "presence") == 0 ||
	    (type != NULL && (strcmp(type, "error") == 0 ||
	    strcmp(type, "result") == 0)))
		return (NULL);
	r = xnode_new(name, NULL);
	xnode_set_attr(r, "type", "error");
	if ((v = xnode_attr(n, "to")) != NULL)
		xnode_set_attr(r, "from", v);
	xnode_set_attr(r, "to", from);
	if ((v = xnode_attr(n, "id")) != NULL)
		xnode_set_attr(r, "id", v);
	for (k = xnode_first(n); k != NULL; k = xnode_next(k))
		xnode_append(r, xnode_copy(k));
	e = xnode_add(r, "error", NULL);
	xnode_set_attr(e, "type", "wait");
	xnode_add(e, cond, NS_STANZA_ERR);
	return (r);
}

/*
 * The follower of l is gone for good with frames it never acknowledged:
 * answer each to its sender (recipient-unavailable) and forget them.
 */
void
crelay_answer_all(struct cfwd_link *l)
{
	struct crelay_frame	*fr;
	struct xnode		*r;
	size_t			 n = 0;

	while ((fr = TAILQ_FIRST(&l->kept)) != NULL) {
		TAILQ_REMOVE(&l->kept, fr, entry);
		if (fr->st != NULL && !fr->copy &&
		    !csm_covers(fr->kind, fr->to) &&
		    (r = crelay_error(fr->st, "recipient-unavailable")) !=
		    NULL) {
			cpseudo_route_from(l, fr->kind, fr->to, 0, 0, r);
			xnode_free(r);
			n++;
		}
		crelay_frame_free(fr);
	}
	l->nkept = l->keptbytes = 0;
	if (n > 0)
		log_info("crelay_answer_all: %s is gone: %zu stanzas it did "
		    "not acknowledge answered to their senders", l->addr, n);
}

/*
 * The recipient to (of kind) registered again elsewhere: each frame l
 * keeps for it is answered to its sender (recipient-unavailable) and
 * emptied: it keeps its number, so that the follower acknowledges what
 * follows as before, but carries no stanza. One the follower had read
 * already may have been delivered: its sender hears "failed" for it, as
 * when a follower is gone for good. How many frames were emptied.
 */
size_t
crelay_moved(struct cfwd_link *l, int kind, const char *to)
{
	struct crelay_frame	*fr;
	struct xnode		*r, *f;
	size_t			 n = 0;

	TAILQ_FOREACH(fr, &l->kept, entry) {
		if (fr->st == NULL || fr->copy || fr->kind != kind ||
		    strcmp(fr->to, to) != 0)
			continue;
		/* An SM session's are mirrored: it resumed there. */
		if (!csm_covers(kind, to) && (r = crelay_error(fr->st,
		    "recipient-unavailable")) != NULL) {
			cpseudo_route_from(l, fr->kind, fr->to, 0, 0, r);
			xnode_free(r);
		}
		free(fr->s);
		f = clink_frame("d", NULL, NULL);
		clink_set_num(f, "n", fr->n);
		fr->s = clink_frame_string(f, &fr->len);
		xnode_free(fr->st);
		fr->st = NULL;
		xnode_free(fr->ost);
		fr->ost = NULL;
		free(fr->ofrom);
		fr->ofrom = NULL;
		l->keptbytes -= fr->bytes;
		fr->bytes = sizeof(*fr) + fr->len + 1 + strlen(fr->to) + 1;
		l->keptbytes += fr->bytes;
		n++;
	}
	return (n);
}

/*
 * Session jid of l's node enabled SM after it delivered our frame k: the
 * frames kept for it after k are its first numbered stanzas (it
 * delivers them after enabling): mirror them in e, in order.
 */
void
crelay_mirror(struct cfwd_link *l, const char *jid, uint64_t k,
    struct csm_entry *e)
{
	struct crelay_frame	*fr;

	TAILQ_FOREACH(fr, &l->kept, entry)
		if (fr->n > k && fr->st != NULL && !fr->copy &&
		    fr->kind == XC_CLIENT &&
		    strcmp(fr->to, jid) == 0 &&
		    csmtab_push(e, fr->st, fr->len) == -1)
			log_warnx("crelay_mirror: %s: no room to mirror", jid);
}

/* Frames up to n are delivered (<dack>): forget them; 0 if not news. */
int
crelay_ack(struct cfwd_link *l, uint64_t n)
{
	struct crelay_frame	*fr;

	if (n <= l->dacked || n > l->dsent)
		return (0);
	l->dacked = n;
	while ((fr = TAILQ_FIRST(&l->kept)) != NULL && fr->n <= n) {
		TAILQ_REMOVE(&l->kept, fr, entry);
		l->nkept--;
		l->keptbytes -= fr->bytes;
		crelay_frame_free(fr);
	}
	clead_dmarks_pop(l);
	if (l->refused > 0) {
		log_info("crelay_ack: %s: room again, after %llu stanzas "
		    "refused", l->addr, (unsigned long long)l->refused);
		l->refused = 0;
	}
	return (1);
}

/* Link l takes over o's numbering and the frames o kept. */
void
crelay_move(struct cfwd_link *o, struct cfwd_link *l)
{
	crelay_clear(l);
	l->dbox = o->dbox;
	l->dsent = o->dsent;
	l->dacked = o->dacked;
	TAILQ_CONCAT(&l->kept, &o->kept, entry);
	l->nkept = o->nkept;
	l->keptbytes = o->keptbytes;
	l->refused = o->refused;
	o->nkept = o->keptbytes = 0;
	o->dbox = 0;
	o->dsent = o->dacked = 0;
	o->ndmarks = 0;
}

/* Write every kept frame on l again: a new link of the same process. */
void
crelay_resend(struct cfwd_link *l)
{
	struct crelay_frame	*fr;

	if (TAILQ_EMPTY(&l->kept))
		return;
	log_info("crelay_resend: %s: %zu stanzas not acknowledged on its "
	    "last link sent again", l->addr, l->nkept);
	TAILQ_FOREACH(fr, &l->kept, entry) {
		clink_write(l, fr->s, fr->len);
		fr->written = 1;
	}
	clead_dmark(l);
}

/*
 * We step down with frames kept for l: what no follower sends again (a
 * stanza of ours) goes to our queue, under its number, for the next
 * leader to route (its receivers drop what they had by its origin);
 * what came from another node is forgotten (that node sends it again,
 * as no <ack> covers it), as are the frames of our own answers. How
 * many frames went to the queue.
 */
size_t
crelay_requeue(struct cfwd_link *l)
{
	struct crelay_frame	*fr;
	size_t			 n = 0;

	while ((fr = TAILQ_FIRST(&l->kept)) != NULL) {
		TAILQ_REMOVE(&l->kept, fr, entry);
		if (fr->ost != NULL) {
			cfwd_requeue(fr->okind, fr->ofrom, fr->oseq, fr->ost,
			    fr->written);
			n++;
		}
		crelay_frame_free(fr);
	}
	l->nkept = l->keptbytes = 0;
	return (n);
}

/* Forget the frames kept for l (its process is gone, or at exit). */
void
crelay_clear(struct cfwd_link *l)
{
	struct crelay_frame	*fr;

	while ((fr = TAILQ_FIRST(&l->kept)) != NULL) {
		TAILQ_REMOVE(&l->kept, fr, entry);
		crelay_frame_free(fr);
	}
	l->nkept = l->keptbytes = 0;
}

/* Free a kept frame. */
static void
crelay_frame_free(struct crelay_frame *fr)
{
	free(fr->s);
	free(fr->to);
	xnode_free(fr->st);
	xnode_free(fr->ost);
	free(fr->ofrom);
	free(fr);
}
