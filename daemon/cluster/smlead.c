/*
 * Stream management across the cluster, the leader's side (spec of
 * issue 13, "Cluster resumption"; smup.c is the follower's side, smtab.c
 * the table). The leader sees every stanza sent to a follower's SM
 * session (a <d> frame through cfwd_send), so it numbers them (k, which
 * is the outbound h the follower's core counts: the follower diverts
 * what its core would send such a session by itself through us, <s
 * l='1'>) and keeps a copy of each until the client acknowledges it
 * (<sma>). For its own SM sessions it keeps the same from the core's
 * sm_sent and sm_ack hooks. So a session can resume on any node: the
 * node the client comes back to asks us (<resume>), we drop it where it
 * was (<smdrop> to a live node, or its pseudo here) and answer with the
 * counters, its presence and the stanzas after the client's h
 * (<resumed>), and register it on its new node at once, so that what is
 * routed next goes there.
 *
 * When a follower's node is gone for good (its link, and the holder of
 * it, closed), its SM sessions hibernate here: their pseudos stay in the
 * router, available, moved to a stand-in link (hib) where what they are
 * sent is only numbered and mirrored; the frames kept for them are not
 * answered with errors (the mirror has them). After the resumption
 * timeout a hibernating session ends: unavailable presence to its
 * contacts, its unacknowledged messages routed to its account (where
 * offline storage takes them), iq requests answered with an error.
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
#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"
#include "cluster/smtab.h"

#define CSM_CHECK_MS		1000	/* hibernating sessions checked */

#define CSM_SETTLE_RETRY_MS	100	/* a resumption waits for settling */

/*
 * A resumption on one of our streams (link 0) or a follower's (its
 * link's serial), answered on the next turn, or once we have settled.
 */
struct csm_asked {
	TAILQ_ENTRY(csm_asked)	 entry;
	uint64_t		 link;
	uint64_t		 rid;
	char			*id;
	char			*bare;
	uint32_t		 h;
};
static TAILQ_HEAD(csm_askeds, csm_asked) asked =
    TAILQ_HEAD_INITIALIZER(asked);
static struct event	*asked_ev;

static struct cfwd_link	 hib;		/* stand-in of hibernating pseudos */
static int		 hib_ready;
static int		 nhib;
static struct event	*hib_ev;

static void	 csm_hib_init(void);
static void	 csm_asked_run(evutil_socket_t, short, void *);
static void	 csm_hib_check(evutil_socket_t, short, void *);
static void	 csm_hib_soon(void);
static int64_t	 csm_resume_ms(void);
static void	 csm_end(struct csm_entry *);
static void	 csm_end_message(const char *, const char *, struct xnode *);
static struct csm_entry *csm_of(const struct xconn *);
static void	 csm_answer(struct cfwd_link *, uint64_t, const char *);
static void	 csm_smon(struct cfwd_link *, struct xnode *);
static void	 csm_sma(struct cfwd_link *, struct xnode *);
static void	 csm_resume_req(struct cfwd_link *, struct xnode *);

/* The stand-in link of hibernating pseudos, set up once. */
static void
csm_hib_init(void)
{
	if (hib_ready)
		return;
	hib_ready = 1;
	TAILQ_INIT(&hib.pseudos);
	TAILQ_INIT(&hib.carried);
	TAILQ_INIT(&hib.kept);
	TAILQ_INIT(&hib.pend);
	hib.dead = 1;
	strlcpy(hib.addr, "(hibernating)", sizeof(hib.addr));
}

/* The check timer, once the loop exists. */
void
csm_events(void)
{
	csm_hib_init();
	if (hib_ev == NULL)
		hib_ev = evtimer_new(mmpd->base, csm_hib_check, NULL);
	if (asked_ev == NULL)
		asked_ev = evtimer_new(mmpd->base, csm_asked_run, NULL);
}

/*
 * Leader: new stream rid of ours resumes id of account bare, having
 * handled h: answered on the loop's next turn (never within the core's
 * hook).
 */
void
csm_resume_soon(uint64_t link, uint64_t rid, const char *id,
    const char *bare, uint32_t h)
{
	struct timeval		 tv = { 0, 0 };
	struct csm_asked	*a;

	a = xcalloc(1, sizeof(*a));
	a->link = link;
	a->rid = rid;
	a->id = xstrdup(id);
	a->bare = xstrdup(bare);
	a->h = h;
	TAILQ_INSERT_TAIL(&asked, a, entry);
	if (asked_ev != NULL)
		evtimer_add(asked_ev, &tv);
}

/*
 * Answer the resumptions asked; while we settle after an election (the
 * followers register their sessions, with the state of their SM ones)
 * they wait.
 */
static void
csm_asked_run(evutil_socket_t fd, short what, void *arg)
{
	struct timeval		 tv = { 0, CSM_SETTLE_RETRY_MS * 1000 };
	struct csm_asked	*a;
	struct cfwd_link	*l;
	int			 lead;

	(void)fd;
	(void)what;
	(void)arg;
	lead = cfwd_role_get() == CFWD_LEADER;
	if (lead && csettle_active() && !TAILQ_EMPTY(&asked)) {
		evtimer_add(asked_ev, &tv);
		return;
	}
	while ((a = TAILQ_FIRST(&asked)) != NULL) {
		TAILQ_REMOVE(&asked, a, entry);
		l = NULL;
		if (a->link != 0 && (!lead ||
		    (l = clead_link_by_serial(a->link)) == NULL))
			;		/* its follower asks the next leader */
		else if (lead)
			csm_lead_resume(l, a->rid, a->id, a->bare, a->h);
		else
			sm_resume_done(a->rid, NULL, 0, 0, NULL, NULL, 0,
			    "item-not-found");
		free(a->id);
		free(a->bare);
		free(a);
	}
}

/*
 * How long a broken SM session waits for its client: XMPP_SM_RESUME_SECS,
 * or MMPD_SM_RESUME_SECS from the environment (for tests).
 */
static int64_t
csm_resume_ms(void)
{
	const char	*v = getenv("MMPD_SM_RESUME_SECS");
	long		 secs = XMPP_SM_RESUME_SECS;
	char		*end;

	if (v != NULL && *v != '\0') {
		secs = strtol(v, &end, 10);
		if (*end != '\0' || secs < 1 || secs > XMPP_SM_RESUME_SECS)
			secs = XMPP_SM_RESUME_SECS;
	}
	return ((int64_t)secs * 1000);
}

/*
 * The entry whose session is c, or NULL: a pseudo by its pointer, a
 * local stream by its full JID (the core moves a session between
 * connections as it hibernates and resumes).
 */
static struct csm_entry *
csm_of(const struct xconn *c)
{
	struct csm_entry	*e;

	if (c->kind != XC_CLIENT || (e = csmtab_by_full(c->full)) == NULL)
		return (NULL);
	if (c->remote == NULL ? !e->local : e->c != c)
		return (NULL);
	return (e);
}

/* Whether c is a hibernating pseudo (its node is gone). */
int
csm_hibernating(const struct xconn *c)
{
	return (hib_ready && c->remote == &hib);
}

/* The stand-in link of hibernating pseudos. */
struct cfwd_link *
csm_hib_link(void)
{
	csm_hib_init();
	return (&hib);
}

/*
 * cfwd_send to pseudo c (a follower's session, live or hibernating) of
 * stanza n, len its serialised length (0: unknown): if c is an SM
 * session, number and mirror it and say its number in *k: 1; 0 if c is
 * not one; -1 if the mirror has no room (the caller refuses it).
 */
int
csm_lead_send(struct xconn *c, const struct xnode *n, size_t len,
    uint32_t *k)
{
	struct csm_entry	*e;

	if ((e = csm_of(c)) == NULL)
		return (0);
	if (csmtab_push(e, n, len) == -1) {
		log_warnx("csm_lead_send: %s: %zu stanzas mirrored (%zu "
		    "bytes in all): refused", c->full, e->nmirror,
		    csmtab_bytes());
		return (-1);
	}
	*k = e->k;
	return (1);
}

/*
 * Whether pseudo c is an SM session (1, and the number its next stanza
 * gets in *k) or not (0).
 */
int
csm_lead_next(const struct xconn *c, uint32_t *k)
{
	struct csm_entry	*e;

	if ((e = csm_of(c)) == NULL)
		return (0);
	*k = e->k + 1;
	return (1);
}

/*
 * Whether what a link keeps for recipient to (kind) is mirrored: an SM
 * session's frames are not answered with errors when its node goes or
 * it moves (it resumes, or its timeout ends it).
 */
int
csm_covers(int kind, const char *to)
{
	return (kind == XC_CLIENT && csmtab_by_full(to) != NULL);
}

/*
 * A stanza of pseudo c (link l's <s> seq) was routed: one more handled,
 * unless its inbound count includes it already (registered after it).
 */
void
csm_lead_in(struct cfwd_link *l, const char *from, uint64_t seq)
{
	struct csm_entry	*e;
	struct xconn		*c;

	if ((e = csmtab_by_full(from)) == NULL ||
	    (c = clink_find(l, XC_CLIENT, from)) == NULL || e->c != c ||
	    seq <= e->in_seq)
		return;
	e->in++;
}

/*
 * Pseudo c of a link that is gone for good (or replaced by a new
 * process of its node): if it is an SM session, it hibernates here,
 * bound and available, until its client resumes it or its time is up:
 * 1. Otherwise 0 (the caller drops it).
 */
int
csm_hibernate(struct xconn *c)
{
	struct cfwd_link	*l = c->remote;
	struct csm_entry	*e;

	if ((e = csm_of(c)) == NULL || l == NULL || l == &hib)
		return (0);
	csm_hib_init();
	TAILQ_REMOVE(&l->pseudos, c, entry);
	l->nsess--;
	TAILQ_INSERT_TAIL(&hib.pseudos, c, entry);
	hib.nsess++;
	c->remote = &hib;
	log_info("csm_hibernate: %s (%s):", c->full, l->addr);
	csm_hib_start(e);
	return (1);
}

/*
 * Entry e's session (a pseudo on hib) hibernates from now on (or since
 * its copy says, if it hibernated at the leader before us): every
 * follower gets a copy, as of our own sessions, for the next leader.
 */
void
csm_hib_start(struct csm_entry *e)
{
	int64_t		 now = cnet_now_ms();

	e->hib_ms = e->copy_hib_ms != 0 && e->copy_hib_ms < now ?
	    e->copy_hib_ms : now;
	e->copy_hib_ms = 0;
	e->hib_k = e->k;
	nhib++;
	log_info("csm_hib_start: %s hibernates: %zu stanzas unacknowledged, "
	    "%lld s to resume", e->full, e->nmirror,
	    (long long)((csm_resume_ms() - (now - e->hib_ms)) / 1000));
	csm_copy_on(e);
	csm_hib_soon();
}

/* Entry e's session no longer hibernates (its node is back with it). */
void
csm_hib_stop(struct csm_entry *e)
{
	if (e->hib_ms != 0) {
		nhib--;
		if (cfwd_role_get() == CFWD_LEADER)
			csm_copy_off(e->full);	/* its node has it again */
	}
	e->hib_ms = 0;
}

/* The SM sessions of link l hibernate (a new process of its node). */
void
csm_hibernate_link(struct cfwd_link *l)
{
	struct xconn	*c, *next;

	for (c = TAILQ_FIRST(&l->pseudos); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		csm_hibernate(c);
	}
}

/* A pseudo or local session leaves: its entry goes with it. */
void
csm_dropped(struct xconn *c)
{
	struct csm_entry	*e;

	if ((e = csm_of(c)) == NULL)
		return;
	if ((e->local || e->hib_ms != 0) && cfwd_role_get() == CFWD_LEADER)
		csm_copy_off(e->full);
	if (e->hib_ms != 0)
		nhib--;
	csmtab_del(e);
}

/* Check the hibernating sessions in CSM_CHECK_MS, unless due already. */
static void
csm_hib_soon(void)
{
	struct timeval	 tv = { CSM_CHECK_MS / 1000, 0 };

	if (hib_ev != NULL && !evtimer_pending(hib_ev, NULL))
		evtimer_add(hib_ev, &tv);
}

/* Every CSM_CHECK_MS while any hibernates: end those whose time is up. */
static void
csm_hib_check(evutil_socket_t fd, short what, void *arg)
{
	struct csm_entry	*e, *next;
	int64_t			 now = cnet_now_ms(), wait = csm_resume_ms();

	(void)fd;
	(void)what;
	(void)arg;
	for (e = csmtab_first(); e != NULL; e = next) {
		next = csmtab_next(e);
		if (e->hib_ms != 0 && now - e->hib_ms >= wait)
			csm_end(e);
	}
	if (nhib > 0)
		csm_hib_soon();
}

/*
 * A hibernating session's time is up: it ends as a closed session does
 * (unavailable presence to its contacts) and what its client did not
 * acknowledge is routed again from its sender to the session, now gone
 * as the core's ended sessions do: a chat or normal message with a body
 * to the account's offline storage (csm_end_message), an iq request
 * routed again from its sender to the session, now gone (cpseudo_back,
 * RFC 6121 8.5.3.2: answered with an error); the rest is dropped.
 */
static void
csm_end(struct csm_entry *e)
{
	struct csm_stanzas	 q;
	struct csm_stanza	*s;
	struct xconn		*c = e->c;
	char			*full, *bare;
	const char		*name, *type;

	log_info("csm_end: %s did not resume in time: %zu stanzas "
	    "unacknowledged", e->full, e->nmirror);
	TAILQ_INIT(&q);
	csmtab_take(e, &q);
	full = xstrdup(e->full);
	bare = xstrdup(e->bare);
	nhib--;
	e->hib_ms = 0;
	csm_copy_off(full);
	csmtab_del(e);		/* before the drop: nothing is mirrored */
	if (c != NULL)
		cpseudo_drop(c, 1);
	while ((s = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, s, entry);
		name = xnode_name(s->st);
		type = xnode_attr(s->st, "type");
		if (strcmp(name, "message") == 0)
			csm_end_message(bare, full, s->st);
		else if (strcmp(name, "iq") == 0 && type != NULL &&
		    (strcmp(type, "get") == 0 || strcmp(type, "set") == 0))
			cpseudo_back(NULL, XC_CLIENT, full, 0, 0, s->st);
		xnode_free(s->st);
		free(s);
	}
	free(full);
	free(bare);
}

/*
 * Message st (ours to change) that the session full of account bare
 * did not acknowledge before it ended: a chat or normal one with a body
 * goes to the account's offline storage (offline_store: through the log,
 * delivered with a delay stamp at the account's next available
 * presence); refused (over the cap), it is routed again from its sender
 * (cpseudo_back: another resource, or service-unavailable to the
 * sender). A carbon was a copy for that session only; other types are
 * dropped.
 */
static void
csm_end_message(const char *bare, const char *full, struct xnode *st)
{
	const char	*type = xnode_attr(st, "type");

	if (type != NULL && strcmp(type, "chat") != 0 &&
	    strcmp(type, "normal") != 0)
		return;
	if (xnode_child(st, "sent", NS_CARBONS) != NULL ||
	    xnode_child(st, "received", NS_CARBONS) != NULL ||
	    xnode_child(st, "body", NULL) == NULL)
		return;
	xnode_set_attr(st, "to", bare);
	if (offline_store(bare, st) == 0)
		return;
	log_info("csm_end_message: %s: offline storage refused a message: "
	    "routed again", bare);
	xnode_set_attr(st, "to", full);
	cpseudo_back(NULL, XC_CLIENT, full, 0, 0, st);
}

/*
 * Answer resume request rid of link at (NULL: of this node) with an
 * error condition.
 */
static void
csm_answer(struct cfwd_link *at, uint64_t rid, const char *cond)
{
	struct xnode	*f;

	if (at == NULL) {
		sm_resume_done(rid, NULL, 0, 0, NULL, NULL, 0, cond);
		return;
	}
	f = clink_frame("resumed", NULL, NULL);
	clink_set_num(f, "rid", rid);
	xnode_set_attr(f, "error", cond);
	clink_send(at, f);
}

/*
 * A client resumes session id of account bare, having handled h, on the
 * new stream rid of link at's node (NULL: of ours): drop the session
 * where it is (silently: it moves), register it at its new place and
 * answer with its counters, its presence and the stanzas after h. An id
 * we do not know, or another account's, is item-not-found.
 */
void
csm_lead_resume(struct cfwd_link *at, uint64_t rid, const char *id,
    const char *bare, uint32_t h)
{
	struct csm_entry	*e;
	struct csm_stanza	*s;
	struct cfwd_link	*ol;
	struct xconn		*old, *c;
	struct xnode		*presence = NULL, *f;
	const struct xnode	**q = NULL;
	size_t			 nq = 0;

	if ((e = csmtab_by_id(id)) == NULL || bare == NULL ||
	    strcmp(e->bare, bare) != 0) {
		log_info("csm_lead_resume: %s: no session %.8s... of that account",
		    at != NULL ? at->addr : "here", id);
		csm_answer(at, rid, "item-not-found");
		return;
	}
	if (!csmtab_h_ok(e, h)) {
		log_info("csm_lead_resume: %s: h %u is not between %u and %u",
		    e->full, h, e->acked, e->k);
		csm_answer(at, rid, "unexpected-request");
		return;
	}
	old = e->local ? clink_find(NULL, XC_CLIENT, e->full) : e->c;
	if (old != NULL && old->presence != NULL)
		presence = xnode_copy(old->presence);
	if (e->hib_ms != 0)
		nhib--;
	e->c = NULL;			/* it moves: the entry stays */
	if (e->local || e->hib_ms != 0)
		csm_copy_off(e->full);	/* no longer ours */
	e->hib_ms = 0;
	e->local = 0;
	e->in_seq = 0;
	if (old != NULL && old->remote == NULL) {
		/* Closed later: its place in the router goes now. */
		sm_drop(old);
		router_unbind(old);
	} else if (old != NULL) {
		ol = old->remote;
		if (!ol->dead && !ol->holder && ol != &hib)
			clink_send(ol, clink_frame("smdrop", "jid", e->full));
		cpseudo_drop(old, 0);
	}
	csmtab_ack(e, h);
	q = xreallocarray(NULL, e->nmirror + 1, sizeof(*q));
	TAILQ_FOREACH(s, &e->mirror, entry)
		q[nq++] = s->st;
	log_info("csm_lead_resume: %s resumes on %s: %u handled, %zu stanzas "
	    "after its h %u", e->full, at != NULL ? at->addr : "this node",
	    e->in, nq, h);
	e->owner = at != NULL ? at->id : 0;
	if (at == NULL) {
		/* Ours: the core binds it (it keeps the id). */
		e->local = 1;
		sm_resume_done(rid, e->full, e->in, h, presence, q, nq, NULL);
		if (clink_find(NULL, XC_CLIENT, e->full) != NULL) {
			csm_copy_on(e);
			goto out;
		}
		/* Its new stream went meanwhile: it hibernates here. */
		e->local = 0;
		if ((c = cpseudo_hib(e->full, presence)) == NULL) {
			csmtab_del(e);
			goto out;
		}
		e->c = c;
		csm_hib_start(e);
		goto out;
	}
	c = cpseudo_resumed(at, e->full, presence);
	if (c == NULL) {
		csm_answer(at, rid, "undefined-condition");
		goto out;
	}
	e->c = c;
	f = clink_frame("resumed", "full", e->full);
	xnode_set_attr(f, "id", e->id);
	clink_set_num(f, "rid", rid);
	clink_set_num(f, "in", e->in);
	clink_set_num(f, "out", h);
	if (presence != NULL)
		clink_add_stanza(f, presence);
	for (s = TAILQ_FIRST(&e->mirror); s != NULL; s = TAILQ_NEXT(s, entry))
		clink_add_stanza(f, s->st);
	clink_send(at, f);
out:
	free(q);
	xnode_free(presence);
}

/*
 * <smon jid id k in/>: the session jid of link l enabled resumable SM
 * with inbound count in, after its node delivered our <d> frame k: what
 * we sent it after that frame is its first numbered stanzas. A session
 * we know already (it resumed here, or enabled again) keeps its counters.
 */
static void
csm_smon(struct cfwd_link *l, struct xnode *n)
{
	const char		*jid = xnode_attr(n, "jid");
	const char		*id = xnode_attr(n, "id");
	struct csm_entry	*e;
	struct xconn		*c;
	uint64_t		 k, in;

	if (jid == NULL || id == NULL || *id == '\0' ||
	    clink_num(xnode_attr(n, "k"), &k) == -1 ||
	    clink_num(xnode_attr(n, "in"), &in) == -1 ||
	    (c = clink_find(l, XC_CLIENT, jid)) == NULL) {
		log_debug("csm_smon: %s: bad or stale <smon>", l->addr);
		return;
	}
	if ((e = csmtab_by_full(jid)) != NULL && e->c == c &&
	    strcmp(e->id, id) == 0)
		return;
	if (e != NULL && e->c == c)
		csm_dropped(c);		/* a new SM session on the stream */
	e = csmtab_add(id, jid, (uint32_t)in, 0);
	e->c = c;
	e->owner = l->id;
	crelay_mirror(l, jid, k, e);
	log_debug("csm_smon: %s on %s: SM with resume, %u stanzas since",
	    jid, l->addr, e->k);
}

/* <sma jid h in/>: the client of session jid of link l acknowledged h. */
static void
csm_sma(struct cfwd_link *l, struct xnode *n)
{
	const char		*jid = xnode_attr(n, "jid");
	struct csm_entry	*e;
	struct xconn		*c;
	uint64_t		 h, in;

	if (jid == NULL || clink_num(xnode_attr(n, "h"), &h) == -1 ||
	    clink_num(xnode_attr(n, "in"), &in) == -1 ||
	    (c = clink_find(l, XC_CLIENT, jid)) == NULL ||
	    (e = csm_of(c)) == NULL)
		return;
	if (csmtab_ack(e, (uint32_t)h) == -1)
		log_warnx("csm_sma: %s: h %llu is not between %u and %u",
		    jid, (unsigned long long)h, e->acked, e->k);
	e->in = (uint32_t)in;
}

/* <resume rid id bare h/>: a client resumes on link l's node. */
static void
csm_resume_req(struct cfwd_link *l, struct xnode *n)
{
	uint64_t	 rid, h;

	if (clink_num(xnode_attr(n, "rid"), &rid) == -1 ||
	    clink_num(xnode_attr(n, "h"), &h) == -1 || h > UINT32_MAX ||
	    xnode_attr(n, "id") == NULL) {
		log_warnx("csm_resume_req: %s: bad <resume>", l->addr);
		return;
	}
	csm_resume_soon(l->serial, rid, xnode_attr(n, "id"),
	    xnode_attr(n, "bare"), (uint32_t)h);
}

/* Leader: a follower's SM frame; 1 if n was one (the caller frees it). */
int
csm_lead_frame(struct cfwd_link *l, struct xnode *n)
{
	const char	*name = xnode_name(n), *jid;
	struct xconn	*c;

	if (strcmp(name, "smon") == 0)
		csm_smon(l, n);
	else if (strcmp(name, "sma") == 0)
		csm_sma(l, n);
	else if (strcmp(name, "resume") == 0)
		csm_resume_req(l, n);
	else if (strcmp(name, "smlost") == 0) {
		/* The stream it resumed on went: it hibernates here. */
		if ((jid = xnode_attr(n, "jid")) != NULL &&
		    (c = clink_find(l, XC_CLIENT, jid)) != NULL &&
		    !csm_hibernate(c))
			cpseudo_drop(c, 1);
	} else
		return (0);
	return (1);
}

/*
 * Leader: our own session c enabled resumable SM (or resumed here): its
 * entry, whose counters a resumed one keeps.
 */
void
csm_lead_on(struct xconn *c)
{
	struct csm_entry	*e;
	const char		*id = sm_id(c);

	if (id == NULL || c->full == NULL)
		return;
	if ((e = csmtab_by_full(c->full)) != NULL && e->local &&
	    strcmp(e->id, id) == 0)
		return;
	e = csmtab_add(id, c->full, sm_in(c), sm_out(c));
	e->local = 1;
	e->owner = 0;
	csm_copy_on(e);
}

/* Leader: our session c broadcast its presence: the copies have it. */
void
csm_lead_presence(struct xconn *c)
{
	struct csm_entry	*e;

	if ((e = csm_of(c)) != NULL && c->remote == NULL)
		csm_copy_on(e);
}

/* Leader: stanza n was queued for our SM session c as number h. */
void
csm_lead_sent(struct xconn *c, const struct xnode *n, uint32_t h)
{
	struct csm_entry	*e;

	if ((e = csm_of(c)) == NULL || c->remote != NULL)
		return;
	if (h != (uint32_t)(e->k + 1))
		return;			/* resent after a resume: mirrored */
	if (csmtab_push(e, n, 0) == -1) {
		log_warnx("csm_lead_sent: %s: no room to mirror stanza %u",
		    c->full, h);
		return;
	}
	clead_copy_all(e->full, h, n);
}

/* Leader: the client of our SM session c acknowledged h. */
void
csm_lead_ack(struct xconn *c, uint32_t h, uint32_t in)
{
	struct csm_entry	*e;

	if ((e = csm_of(c)) == NULL)
		return;
	csmtab_ack(e, h);
	e->in = in;
	if (c->remote == NULL)
		csm_copy_ack(e);
}

/*
 * Leader: we are about to tell the client of our SM session c that we
 * handled in of its stanzas (<a h/>): the copies on the followers move
 * with it, written before the <a/>, so that a resumption after we die
 * never says less than the client was told.
 */
void
csm_lead_answer(struct xconn *c, uint32_t in)
{
	struct csm_entry	*e;

	if ((e = csm_of(c)) == NULL || c->remote != NULL || e->in == in)
		return;
	e->in = in;
	csm_copy_ack(e);
}

/*
 * We step down (or exit): forget the hibernating sessions and every
 * entry but those of our own sessions (a follower keeps them, for the
 * next leader). The followers keep their copies of the hibernating ones
 * (no <moff>): the next leader adopts them (csm_promote).
 */
void
csm_lead_stop(void)
{
	struct csm_entry	*e, *next;
	struct xconn		*c;

	for (e = csmtab_first(); e != NULL; e = next) {
		next = csmtab_next(e);
		if (!e->local)
			csmtab_del(e);
	}
	nhib = 0;
	if (hib_ready)
		while ((c = TAILQ_FIRST(&hib.pseudos)) != NULL)
			cpseudo_drop(c, 0);
}

/*
 * The daemon stops (SIGTERM): a leader with followers hands its SM
 * sessions on. They hibernate here until the exit (sm_keep_all: their
 * streams get system-shutdown, but no unavailable presence goes out,
 * nothing is routed on, no <moff>), so what is routed to them until we
 * hand over is numbered and copied to every follower as before; the
 * follower that leads next adopts the copies (csm_promote), with those
 * of the sessions hibernating here. A follower linked to its leader
 * does the same: no <unbind>, so the leader's mirror stays and the
 * sessions hibernate there once our link is gone for good.
 */
void
csm_shutdown(void)
{
	switch (cfwd_role_get()) {
	case CFWD_LEADER:
		if (clead_linked())
			(void)sm_keep_all();
		break;
	case CFWD_FOLLOWER:
		if (cfwd_uplink() != NULL)
			(void)sm_keep_all();
		break;
	}
}

/* At exit: the entries, the hibernating sessions, the timers. */
void
csm_free(void)
{
	struct csm_asked	*a;

	csm_lead_stop();
	csmtab_clear();
	csm_up_free();
	while ((a = TAILQ_FIRST(&asked)) != NULL) {
		TAILQ_REMOVE(&asked, a, entry);
		free(a->id);
		free(a->bare);
		free(a);
	}
	if (hib_ev != NULL)
		event_free(hib_ev);
	hib_ev = NULL;
	if (asked_ev != NULL)
		event_free(asked_ev);
	asked_ev = NULL;
}
