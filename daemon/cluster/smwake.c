/*
 * Stream management across the cluster: a hibernating session whose node
 * comes back with it still live (the node was paused or cut off, or it
 * led before us and follows now). The leader held the session asleep
 * (smlead.c) and numbered and mirrored what was routed to it meanwhile;
 * the node's <bind sm='id' in out acked seq><q>..</q></bind> says what
 * its core has sent the client (out) and holds unacknowledged. The
 * leader's mirror is the truth for what was routed to the session: the
 * pseudo wakes on the node's new link with its entry, and each stanza
 * the node lacks goes to it as a numbered <d>, in order, once, before
 * anything routed after the registration.
 *
 * What the node lacks: every stanza numbered after the lower of its out
 * and the leader's count when the session began to hibernate (hib_k).
 * Those after hib_k were only mirrored here (nothing reached the node);
 * those after out up to hib_k were in frames lost with the node's old
 * link. Up to out the node's queue is the truth (a dead leader's copy of
 * its own session may lag behind what its core sent).
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

static void	 csm_wake_seed(struct csm_entry *, struct xnode *, uint32_t,
		    uint32_t, uint64_t);

/*
 * Entry e, reset to what the node's <bind> n says: acknowledged up to
 * acked, its queue (n's <q>) mirrored after that, inbound count in
 * including the node's <s> frames up to seq.
 */
static void
csm_wake_seed(struct csm_entry *e, struct xnode *n, uint32_t in,
    uint32_t acked, uint64_t seq)
{
	struct xnode	*w, *k;

	e->k = e->acked = acked;
	e->in = in;
	e->in_seq = seq;
	for (w = xnode_first(n); w != NULL; w = xnode_next(w)) {
		if (strcmp(xnode_name(w), "q") != 0)
			continue;
		for (k = xnode_first(w); k != NULL; k = xnode_next(k)) {
			router_strip(k);
			if (csmtab_push(e, k, 0) == -1)
				log_warnx("csm_wake: %s: no room", e->full);
		}
	}
}

/*
 * Leader: <bind> n of session jid on link l, not yet a pseudo of l: if
 * the session hibernates here with the same resumption id, its pseudo
 * moves to l (the caller then finds it there and keeps it) and what the
 * node lacks of the mirror goes to it. Nothing happens otherwise (the
 * caller binds the session as new, replacing any other).
 */
void
csm_wake(struct cfwd_link *l, const char *jid, struct xnode *n)
{
	struct csm_stanzas	 q;
	struct csm_stanza	*s;
	struct csm_entry	*e;
	struct cfwd_link	*hib;
	struct xconn		*c;
	const char		*id = xnode_attr(n, "sm");
	uint64_t		 in, out, acked, seq;
	uint32_t		 from, was;
	size_t			 nsent = 0;

	if (id == NULL || (e = csmtab_by_full(jid)) == NULL ||
	    (c = e->c) == NULL || !csm_hibernating(c) ||
	    strcmp(e->id, id) != 0)
		return;
	if (clink_num(xnode_attr(n, "in"), &in) == -1 ||
	    clink_num(xnode_attr(n, "out"), &out) == -1 ||
	    clink_num(xnode_attr(n, "acked"), &acked) == -1 ||
	    clink_num(xnode_attr(n, "seq"), &seq) == -1)
		return;
	hib = csm_hib_link();
	TAILQ_REMOVE(&hib->pseudos, c, entry);
	hib->nsess--;
	TAILQ_INSERT_TAIL(&l->pseudos, c, entry);
	l->nsess++;
	c->remote = l;
	e->owner = l->id;
	csm_hib_stop(e);
	was = e->k;
	/* The first stanza it lacks: after the lower of out and hib_k. */
	from = (int32_t)(e->hib_k - (uint32_t)out) < 0 ? e->hib_k :
	    (uint32_t)out;
	TAILQ_INIT(&q);
	csmtab_take(e, &q);
	xnode_set_ns(n, NULL);		/* its stanzas must not inherit ours */
	csm_wake_seed(e, n, (uint32_t)in, (uint32_t)acked, seq);
	if (e->k != (uint32_t)out)
		log_warnx("csm_wake: %s: %u stanzas queued, its node sent %llu",
		    jid, e->k, (unsigned long long)out);
	e->k = (uint32_t)out;
	while ((s = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, s, entry);
		if ((int32_t)(s->h - from) > 0) {
			cfwd_send(c, s->st);	/* numbered k+1, mirrored */
			nsent++;
		}
		xnode_free(s->st);
		free(s);
	}
	log_info("csm_wake: %s wakes on %s: it sent %llu, we %u (%u when it "
	    "began to hibernate): %zu stanzas it lacks sent to it", jid,
	    l->addr, (unsigned long long)out, was, e->hib_k, nsent);
}
