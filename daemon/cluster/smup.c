/*
 * Stream management across the cluster: the core's SM hooks (spec of
 * issue 13), each handed to the role this node has now, and the
 * follower's side (smlead.c is the leader's). A follower's SM session is
 * numbered by the leader: the follower tells it when the session enables
 * resumption (<smon>) and what its client acknowledges (<sma>), and
 * diverts to it whatever its own core would send the session by itself
 * (an <s l='1'>, which comes back as a numbered <d>). A client that
 * resumes here with an id this node does not hold is looked up at the
 * leader (<resume>); its answer (<resumed>) hands the session over to
 * the core. <smdrop> says a session of ours resumed elsewhere.
 *
 * follower to leader:
 *   <smon jid id k in/>	SM with resume on session jid, enabled after
 *			our last delivered <d> (k); in: its inbound count
 *   <sma jid h in/>	its client acknowledged h
 *   <resume rid id bare h/>	new stream rid (its serial) resumes id
 *   <s seq from k l='1'>stanza</s>	a stanza for SM session from that
 *			our core would send it itself: the leader sends it
 *			back as a numbered <d> (it rides the <s> numbering,
 *			so it is kept and sent again as any <s>)
 * leader to follower:
 *   <d ... k='K'>	stanza K of an SM session (its outbound h)
 *   <smdrop jid/>	the session resumed elsewhere: drop it silently
 *   <resumed rid full in out>[presence][stanzas]</resumed>
 *   <resumed rid error='cond'/>
 */
#include <sys/queue.h>
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

#define CSM_PENDING_MAX		256	/* resumptions asked of the leader */

/* A resumption we asked the leader about: the new stream's serial. */
struct csm_pending {
	TAILQ_ENTRY(csm_pending) entry;
	uint64_t		 rid;
};
static TAILQ_HEAD(csm_pendings, csm_pending) pending =
    TAILQ_HEAD_INITIALIZER(pending);
static size_t		 npending;

/* The stanza the follower delivers now from a <d>, and to whom. */
static const struct xconn *delivering_to;
static const struct xnode *delivering_st;

static struct csm_pending *csm_pending_take(uint64_t);
static void	 csm_resumed(struct xnode *);

/* Follower: stanza st of a <d> goes to c now (NULL, NULL: done). */
void
csm_up_delivering(const struct xconn *c, const struct xnode *st)
{
	delivering_to = c;
	delivering_st = st;
}

/* The sm_on hook: local session c enabled SM with resume. */
void
csm_on(struct xconn *c)
{
	struct cfwd_link	*up;
	struct xnode		*f;

	switch (cfwd_role_get()) {
	case CFWD_LEADER:
		csm_lead_on(c);
		break;
	case CFWD_FOLLOWER:
		if ((up = cfwd_uplink()) == NULL || c->full == NULL ||
		    sm_id(c) == NULL)
			break;
		f = clink_frame("smon", "jid", c->full);
		xnode_set_attr(f, "id", sm_id(c));
		clink_set_num(f, "k", cfwd_dlast());
		clink_set_num(f, "in", sm_in(c));
		clink_send(up, f);
		break;
	}
}

/*
 * The sm_divert hook: a follower sends its SM session c nothing of its
 * own but what a <d> brings; anything else goes through the leader,
 * which numbers it (1). Elsewhere nothing is diverted (0).
 */
int
csm_divert(struct xconn *c, const struct xnode *n)
{
	if (cfwd_role_get() != CFWD_FOLLOWER || c->full == NULL ||
	    (c == delivering_to && n == delivering_st))
		return (0);
	cfwd_local(c, n);
	return (1);
}

/* The sm_sent hook: a leader mirrors what its own SM session is sent. */
void
csm_sent(struct xconn *c, const struct xnode *n, uint32_t h)
{
	if (cfwd_role_get() == CFWD_LEADER)
		csm_lead_sent(c, n, h);
}

/* The sm_ack hook: the client of c acknowledged h (in: its inbound). */
void
csm_ack(struct xconn *c, uint32_t h, uint32_t in)
{
	struct cfwd_link	*up;
	struct xnode		*f;

	switch (cfwd_role_get()) {
	case CFWD_LEADER:
		csm_lead_ack(c, h, in);
		break;
	case CFWD_FOLLOWER:
		if ((up = cfwd_uplink()) == NULL || c->full == NULL)
			break;
		f = clink_frame("sma", "jid", c->full);
		clink_set_num(f, "h", h);
		clink_set_num(f, "in", in);
		clink_send(up, f);
		break;
	}
}

/*
 * The sm_resume hook: new stream c (authenticated) resumes id, not held
 * here, having handled h: the leader looks for it (here, if we lead).
 * 0 if nobody can now (no leader linked): <failed/> at once.
 */
int
csm_resume_hook(struct xconn *c, const char *id, uint32_t h)
{
	struct cfwd_link	*up;
	struct csm_pending	*p;
	struct xnode		*f;
	char			*bare;
	uint64_t		 rid = xconn_serial(c);

	if (c->local == NULL || c->domain == NULL)
		return (0);
	switch (cfwd_role_get()) {
	case CFWD_LEADER:
		xasprintf(&bare, "%s@%s", c->local, c->domain);
		csm_resume_soon(rid, id, bare, h);	/* never within the hook */
		free(bare);
		return (1);
	case CFWD_FOLLOWER:
		if ((up = cfwd_uplink()) == NULL ||
		    npending >= CSM_PENDING_MAX)
			return (0);
		xasprintf(&bare, "%s@%s", c->local, c->domain);
		f = clink_frame("resume", "id", id);
		clink_set_num(f, "rid", rid);
		xnode_set_attr(f, "bare", bare);
		clink_set_num(f, "h", h);
		clink_send(up, f);
		free(bare);
		p = xcalloc(1, sizeof(*p));
		p->rid = rid;
		TAILQ_INSERT_TAIL(&pending, p, entry);
		npending++;
		return (1);
	}
	return (0);
}

/* The sm_off hook: SM session c ended for good. */
void
csm_off(struct xconn *c)
{
	if (cfwd_role_get() == CFWD_LEADER)
		csm_dropped(c);
}

/* The pending resumption of new stream rid, taken off the list; or NULL. */
static struct csm_pending *
csm_pending_take(uint64_t rid)
{
	struct csm_pending	*p;

	TAILQ_FOREACH(p, &pending, entry)
		if (p->rid == rid)
			break;
	if (p != NULL) {
		TAILQ_REMOVE(&pending, p, entry);
		npending--;
	}
	return (p);
}

/*
 * Follower: <resumed rid full in out>[presence][stanzas]</resumed> or
 * <resumed rid error/>: hand the session to the core, or fail.
 */
static void
csm_resumed(struct xnode *n)
{
	const struct xnode	**q = NULL;
	const struct xnode	*presence = NULL;
	struct xnode		*k;
	const char		*full = xnode_attr(n, "full");
	const char		*err = xnode_attr(n, "error");
	uint64_t		 rid, in, out;
	size_t			 nq = 0;

	if (clink_num(xnode_attr(n, "rid"), &rid) == -1)
		return;
	free(csm_pending_take(rid));
	if (err == NULL && (full == NULL ||
	    clink_num(xnode_attr(n, "in"), &in) == -1 ||
	    clink_num(xnode_attr(n, "out"), &out) == -1))
		err = "undefined-condition";
	if (err != NULL) {
		sm_resume_done(rid, NULL, 0, 0, NULL, NULL, 0, err);
		return;
	}
	xnode_set_ns(n, NULL);		/* its stanzas must not inherit ours */
	for (k = xnode_first(n); k != NULL; k = xnode_next(k)) {
		router_strip(k);
		if (k == xnode_first(n) && strcmp(xnode_name(k),
		    "presence") == 0 && xnode_attr(k, "type") == NULL &&
		    xnode_attr(k, "to") == NULL) {
			presence = k;
			continue;
		}
		q = xreallocarray(q, nq + 1, sizeof(*q));
		q[nq++] = k;
	}
	log_info("csm_resumed: %s resumes here: %zu stanzas resent", full,
	    nq);
	sm_resume_done(rid, full, (uint32_t)in, (uint32_t)out, presence, q,
	    nq, NULL);
	free(q);
}

/* Follower: an SM frame from the leader; 1 if n was one (caller frees). */
int
csm_up_frame(struct xnode *n)
{
	const char	*name = xnode_name(n), *jid;
	struct xconn	*c;

	if (strcmp(name, "smdrop") == 0) {
		if ((jid = xnode_attr(n, "jid")) != NULL &&
		    (c = clink_find(NULL, XC_CLIENT, jid)) != NULL) {
			log_info("csm_up_frame: %s resumed elsewhere", jid);
			sm_drop(c);
		}
	} else if (strcmp(name, "resumed") == 0)
		csm_resumed(n);
	else
		return (0);
	return (1);
}

/*
 * Follower: the link to the leader is lost: the resumptions it did not
 * answer fail (the client may bind anew, or try again).
 */
void
csm_up_lost(void)
{
	struct csm_pending	*p;

	while ((p = TAILQ_FIRST(&pending)) != NULL) {
		TAILQ_REMOVE(&pending, p, entry);
		npending--;
		sm_resume_done(p->rid, NULL, 0, 0, NULL, NULL, 0,
		    "item-not-found");
		free(p);
	}
}
