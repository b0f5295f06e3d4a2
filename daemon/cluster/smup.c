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
 *   <smlost jid/>	the stream a <resumed> was for went meanwhile
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
#include <sys/tree.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cluster/cluster.h"
#include "cluster/net.h"
#include "mmpd.h"
#include "log.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"
#include "cluster/smtab.h"

#define CSM_PENDING_MS		10000	/* a resumption asked of the leader
					   is answered within, or fails */

/* A resumption we ask the leader about: the new stream's serial. */
struct csm_pending {
	TAILQ_ENTRY(csm_pending) entry;
	uint64_t		 rid;
	char			*id;
	char			*bare;
	uint32_t		 h;
	int64_t			 since_ms;
};
static TAILQ_HEAD(csm_pendings, csm_pending) pending =
    TAILQ_HEAD_INITIALIZER(pending);
static size_t		 npending;
static int64_t		 pending_ms;		/* CSM_PENDING_MS, or the env's */

/* The stanza the follower delivers now from a <d>, and to whom. */
static const struct xconn *delivering_to;
static const struct xnode *delivering_st;

static struct event	*pending_ev;

static struct csm_pending *csm_pending_take(uint64_t);
static void	 csm_pending_free(struct csm_pending *);
static void	 csm_pending_send(struct cfwd_link *, struct csm_pending *);
static void	 csm_pending_check(evutil_socket_t, short, void *);
static void	 csm_resumed(struct xnode *);

/* Follower: stanza st of a <d> goes to c now (NULL, NULL: done). */
void
csm_up_delivering(const struct xconn *c, const struct xnode *st)
{
	delivering_to = c;
	delivering_st = st;
}

/*
 * The sm_on hook: local session c enabled SM with resume: our entry for
 * it (its copies: smcopy.c); a follower tells the leader.
 */
void
csm_on(struct xconn *c)
{
	struct cfwd_link	*up;
	struct xnode		*f;

	csm_lead_on(c);
	switch (cfwd_role_get()) {
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

/*
 * The sm_sent hook: what our own SM session is sent is mirrored (a
 * leader copies it to its followers; a follower keeps it for the next
 * leader).
 */
void
csm_sent(struct xconn *c, const struct xnode *n, uint32_t h)
{
	if (cfwd_role_get() != CFWD_NONE)
		csm_lead_sent(c, n, h);
}

/* The sm_ack hook: the client of c acknowledged h (in: its inbound). */
void
csm_ack(struct xconn *c, uint32_t h, uint32_t in)
{
	struct cfwd_link	*up;
	struct xnode		*f;

	csm_lead_ack(c, h, in);
	switch (cfwd_role_get()) {
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
	struct timeval		 tv = { 0, 250000 };
	struct cfwd_link	*up;
	struct csm_pending	*p;
	char			*bare;
	uint64_t		 rid = xconn_serial(c);

	if (c->local == NULL || c->domain == NULL)
		return (0);
	switch (cfwd_role_get()) {
	case CFWD_LEADER:
		xasprintf(&bare, "%s@%s", c->local, c->domain);
		csm_resume_soon(0, rid, id, bare, h);	/* never within the hook */
		free(bare);
		return (1);
	case CFWD_FOLLOWER:
		/* Asked now, or once we link to a leader (one per stream:
		 * the streams' own bounds bound them). */
		p = xcalloc(1, sizeof(*p));
		p->rid = rid;
		p->id = xstrdup(id);
		xasprintf(&p->bare, "%s@%s", c->local, c->domain);
		p->h = h;
		p->since_ms = cnet_now_ms();
		TAILQ_INSERT_TAIL(&pending, p, entry);
		npending++;
		if ((up = cfwd_uplink()) != NULL)
			csm_pending_send(up, p);
		if (pending_ev == NULL)
			pending_ev = evtimer_new(mmpd->base,
			    csm_pending_check, NULL);
		if (!evtimer_pending(pending_ev, NULL))
			evtimer_add(pending_ev, &tv);
		return (1);
	}
	return (0);
}

/* Ask leader link l to resume p. */
static void
csm_pending_send(struct cfwd_link *l, struct csm_pending *p)
{
	struct xnode	*f;

	f = clink_frame("resume", "id", p->id);
	clink_set_num(f, "rid", p->rid);
	xnode_set_attr(f, "bare", p->bare);
	clink_set_num(f, "h", p->h);
	clink_send(l, f);
}

/* A new link to the leader l: the resumptions that wait are asked. */
void
csm_up_linked(struct cfwd_link *l)
{
	struct csm_pending	*p;

	TAILQ_FOREACH(p, &pending, entry)
		csm_pending_send(l, p);
}

/*
 * How long a resumption waits for the leader's answer: CSM_PENDING_MS,
 * or MMPD_SM_PENDING_MS from the environment (for tests).
 */
static int64_t
csm_pending_wait(void)
{
	const char	*v;
	char		*end;
	long		 ms;

	if (pending_ms != 0)
		return (pending_ms);
	pending_ms = CSM_PENDING_MS;
	if ((v = getenv("MMPD_SM_PENDING_MS")) != NULL && *v != '\0') {
		ms = strtol(v, &end, 10);
		if (*end == '\0' && ms >= 100 && ms <= 600000)
			pending_ms = ms;
	}
	return (pending_ms);
}

/* Every 250 ms while any waits: fail those waiting too long. */
static void
csm_pending_check(evutil_socket_t fd, short what, void *arg)
{
	struct timeval		 tv = { 0, 250000 };
	struct csm_pending	*p, *next;
	int64_t			 now = cnet_now_ms();

	(void)fd;
	(void)what;
	(void)arg;
	for (p = TAILQ_FIRST(&pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (now - p->since_ms < csm_pending_wait())
			continue;
		TAILQ_REMOVE(&pending, p, entry);
		npending--;
		log_info("csm_pending_check: no answer from a leader for the "
		    "resumption of %s in %lld ms", p->bare,
		    (long long)csm_pending_wait());
		sm_resume_done(p->rid, NULL, 0, 0, NULL, NULL, 0,
		    "item-not-found");
		csm_pending_free(p);
	}
	if (!TAILQ_EMPTY(&pending))
		evtimer_add(pending_ev, &tv);
}

/* Free a pending resumption. */
static void
csm_pending_free(struct csm_pending *p)
{
	if (p == NULL)
		return;
	free(p->id);
	free(p->bare);
	free(p);
}

/*
 * The sm_answer hook: the server is about to tell the client of c that
 * it handled in stanzas: a leader's copies of its session know it first;
 * a follower tells only what the leader has acknowledged (the stanzas it
 * still keeps for the leader die with it).
 */
uint32_t
csm_answer_hook(struct xconn *c, uint32_t in)
{
	if (cfwd_role_get() == CFWD_LEADER) {
		csm_lead_answer(c, in);
		return (in);
	}
	return (cfwd_sm_safe(c, in));
}

/*
 * Follower: stanzas of SM session smid of our session full are no
 * longer kept for the leader: its client may be told more.
 */
void
csm_up_safe(const char *full, const char *smid)
{
	struct xconn	*c;
	const char	*id;

	if ((c = clink_find(NULL, XC_CLIENT, full)) == NULL ||
	    c->remote != NULL || (id = sm_id(c)) == NULL ||
	    strcmp(id, smid) != 0)
		return;
	sm_answer_more(c);
}

/* The sm_off hook: SM session c ended for good: its entry goes. */
void
csm_off(struct xconn *c)
{
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
	const char		*id = xnode_attr(n, "id");
	struct csm_entry	*e;
	struct cfwd_link	*up;
	uint64_t		 rid, in, out;
	size_t			 nq = 0;

	if (clink_num(xnode_attr(n, "rid"), &rid) == -1)
		return;
	csm_pending_free(csm_pending_take(rid));
	if (err == NULL && (full == NULL || id == NULL ||
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
	/* Ours now: its resent stanzas (sm_sent) fill our copy again. */
	e = csmtab_add(id, full, (uint32_t)in, (uint32_t)out);
	e->local = 1;
	sm_resume_done(rid, full, (uint32_t)in, (uint32_t)out, presence, q,
	    nq, NULL);
	if (clink_find(NULL, XC_CLIENT, full) == NULL) {
		/* Its stream went meanwhile: it hibernates at the leader. */
		csmtab_del(e);
		if ((up = cfwd_uplink()) != NULL)
			clink_send(up, clink_frame("smlost", "jid", full));
	}
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
			csm_dropped(c);
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
 * answer are asked again of the next (or fail after CSM_PENDING_MS).
 */
void
csm_up_lost(void)
{
}

/*
 * We lead now: the resumptions we asked (or meant to ask) a leader
 * about are ours to answer.
 */
void
csm_up_leads(void)
{
	struct csm_pending	*p;

	while ((p = TAILQ_FIRST(&pending)) != NULL) {
		TAILQ_REMOVE(&pending, p, entry);
		npending--;
		csm_resume_soon(0, p->rid, p->id, p->bare, p->h);
		csm_pending_free(p);
	}
}

/* At exit: the resumptions that wait, the timer. */
void
csm_up_free(void)
{
	struct csm_pending	*p;

	while ((p = TAILQ_FIRST(&pending)) != NULL) {
		TAILQ_REMOVE(&pending, p, entry);
		csm_pending_free(p);
	}
	npending = 0;
	if (pending_ev != NULL)
		event_free(pending_ev);
	pending_ev = NULL;
}
