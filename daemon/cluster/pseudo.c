/*
 * Forwarding in a cluster, the leader's side (see follower.c for the
 * whole): the pseudo connections that stand in the router for the
 * sessions and call bridges of other nodes (c->remote is their node's
 * link, or a holder of it; leader.c owns the links), their registration
 * (<bind>, <comp>) and what they are sent and told: routing from them,
 * closing them (<kill>), and the unavailable presence of those that are
 * gone. Dropped pseudos wait for our reaper: callers up the stack may
 * still hold them. While a forwarded stanza is routed, its origin (the
 * follower process and its number for it, and this routing pass) goes
 * with every <d> frame it makes (relay.c) and is checked before a local
 * session gets it (cfwd_local_ok): a replay after a leader died is
 * delivered once (link.c, clink_origin_new).
 */
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "reaper.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"
#include "cluster/smtab.h"

static struct xconn_list graveyard = TAILQ_HEAD_INITIALIZER(graveyard);
static struct reaper	*pseudo_reaper;
static struct cfwd_link	 transient_link;	/* origins that went */
static const struct cfwd_origin *routing;	/* what is routed now */
static struct cfwd_link	*routing_link;		/* ... from that link */
static uint64_t		 npass;			/* routing passes */

/* A forwarded stanza whose handling goes on after it was routed. */
struct cpseudo_hold {
	TAILQ_ENTRY(cpseudo_hold) entry;
	uint64_t		 id;
	uint64_t		 link;		/* its link's serial */
	uint64_t		 seq;		/* its <s> */
};
static TAILQ_HEAD(cpseudo_holds, cpseudo_hold) holds =
    TAILQ_HEAD_INITIALIZER(holds);
static uint64_t		 nextholdid;

static void	 cpseudo_kill(struct cfwd_link *, const char *, const char *,
		    const char *);
static void	 cpseudo_carried_del(struct cfwd_link *, const char *);
static void	 cpseudo_reap(void *);
static struct xconn *cpseudo_new(struct cfwd_link *, int, const char *);

/* Our reaper, made once the loop exists. */
void
cpseudo_events(void)
{
	if (pseudo_reaper == NULL)
		pseudo_reaper = reaper_new(cpseudo_reap, NULL);
}

/* At exit, once every link is closed: free the dropped, and the reaper. */
void
cpseudo_free(void)
{
	struct cpseudo_hold	*h;

	while ((h = TAILQ_FIRST(&holds)) != NULL) {
		TAILQ_REMOVE(&holds, h, entry);
		free(h);
	}
	cpseudo_reap(NULL);
	reaper_free(pseudo_reaper);
	pseudo_reaper = NULL;
}

/* Set up the stand-in link of origins that went. */
void
cpseudo_init(void)
{
	transient_link.dead = 1;
	strlcpy(transient_link.addr, "(gone)", sizeof(transient_link.addr));
	/* Passes numbered from a random start: unique in the cluster. */
	while (npass == 0)
		arc4random_buf(&npass, sizeof(npass));
	npass &= UINT64_MAX >> 2;	/* decimal, unsigned, for clink_num */
}

/* Leader: have a follower close a session or component (<kill>). */
static void
cpseudo_kill(struct cfwd_link *l, const char *id, const char *cond,
    const char *text)
{
	struct xnode	*f;

	f = clink_frame("kill", "to", id);
	if (cond != NULL)
		xnode_set_attr(f, "cond", cond);
	if (text != NULL)
		xnode_set_attr(f, "text", text);
	clink_send(l, f);
}

/* Link l's node bound id (a session or call bridge) again. */
static void
cpseudo_carried_del(struct cfwd_link *l, const char *id)
{
	struct cfwd_jid	*e, *next;

	for (e = TAILQ_FIRST(&l->carried); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (strcmp(e->jid, id) != 0)
			continue;
		TAILQ_REMOVE(&l->carried, e, entry);
		free(e->jid);
		free(e);
	}
}

/*
 * Link l, which took over an earlier link of its process, is synced:
 * what was kept for a client session (not an SM one) that did not come
 * back is answered to its senders and emptied (crelay_moved), before
 * the frames go out again. Sent, it would come back (nobody there) and
 * be routed again behind what came for that user meanwhile.
 */
void
cpseudo_carried_unsent(struct cfwd_link *l)
{
	struct cfwd_jid	*e;
	size_t		 n = 0;

	TAILQ_FOREACH(e, &l->carried, entry)
		if (strchr(e->jid, '/') != NULL &&
		    !csm_covers(XC_CLIENT, e->jid))
			n += crelay_moved(l, XC_CLIENT, e->jid);
	if (n > 0)
		log_info("cpseudo_carried_unsent: %s: %zu stanzas for "
		    "sessions that did not come back answered to their "
		    "senders", l->addr, n);
}

/*
 * Of the sessions and call bridges l's node had on the link l replaced
 * or took over, those not back: gone (their contacts hear it, once).
 */
void
cpseudo_carried_gone(struct cfwd_link *l)
{
	struct cfwd_jid	*e;
	struct xconn	*c;
	int		 kind;

	while ((e = TAILQ_FIRST(&l->carried)) != NULL) {
		TAILQ_REMOVE(&l->carried, e, entry);
		kind = strchr(e->jid, '/') != NULL ? XC_CLIENT : XC_COMPONENT;
		if ((c = clink_find(l, kind, e->jid)) != NULL) {
			log_debug("cpseudo_carried_gone: %s did not come "
			    "back on %s", e->jid, l->addr);
			cpseudo_drop(c, 1);
		} else if (kind == XC_CLIENT && !clink_has_session(e->jid)) {
			log_debug("cpseudo_carried_gone: %s did not come "
			    "back on %s", e->jid, l->addr);
			cpseudo_gone_presence(e->jid);
		}
		free(e->jid);
		free(e);
	}
}

/* Outside every callback: free dropped pseudos. */
static void
cpseudo_reap(void *arg)
{
	struct xconn	*c;

	(void)arg;
	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, entry);
		xconn_free(c);
	}
}

/*
 * A pseudo connection for id (a full JID, or a component's domain) on
 * link l (&transient_link for an origin that went); NULL if id is not
 * one. A client's resource is set but not its full JID: router_bind sets
 * that (cpseudo_route_from sets it for a transient one).
 */
static struct xconn *
cpseudo_new(struct cfwd_link *l, int kind, const char *id)
{
	struct xconn	*c;
	const char	*slash, *at;
	char		 peer[80];

	if (kind == XC_CLIENT) {
		if ((slash = strchr(id, '/')) == NULL || slash[1] == '\0' ||
		    (at = memchr(id, '@', slash - id)) == NULL || at == id ||
		    at + 1 == slash)
			return (NULL);
	} else if (*id == '\0' || strpbrk(id, "@/") != NULL)
		return (NULL);
	c = chook_pseudo_new(kind, l);	/* ready, c->remote is l */
	snprintf(peer, sizeof(peer), "%.60s via cluster", l->addr);
	xconn_set_peer(c, l->addr, peer);
	if (kind == XC_CLIENT) {
		c->local = xstrndup(id, at - id);
		c->domain = xstrndup(at + 1, slash - at - 1);
		c->bare = xstrndup(id, slash - id);
		c->resource = xstrdup(slash + 1);
	} else {
		c->cdomain = xstrdup(id);
		c->cb = xstrndup(id, strcspn(id, "."));
	}
	return (c);
}

/*
 * A pseudo leaves the router and its link (with unavailable presence to
 * its contacts if gone); the reaper frees it, since callers up the stack
 * may still hold it.
 */
void
cpseudo_drop(struct xconn *c, int gone)
{
	struct cfwd_link	*l = c->remote;
	const char		*id;

	if ((id = c->kind == XC_CLIENT ? c->full : c->cdomain) != NULL)
		cpseudo_carried_del(l, id);	/* dealt with */
	csm_dropped(c);			/* an SM session ends with it */
	if (c->kind == XC_CLIENT) {
		if (gone)
			presence_gone(c);
		router_unbind(c);
		l->nsess--;
	} else {
		router_del_component(c);
		l->ncomp--;
	}
	c->closing = 1;
	TAILQ_REMOVE(&l->pseudos, c, entry);
	TAILQ_INSERT_TAIL(&graveyard, c, entry);
	if (pseudo_reaper != NULL)
		reaper_soon(pseudo_reaper);
}

/*
 * Route a stanza from id (kind) of link l (NULL: this node), forwarded
 * by the follower process epoch as its <s> seq (epoch 0: no origin).
 * An origin that went is stood in for by a transient pseudo that is
 * routed from but never bound: what it is sent is dropped, and its
 * broadcast presence is not routed (that session is unavailable now).
 */
void
cpseudo_route_from(struct cfwd_link *l, int kind, const char *id,
    uint64_t epoch, uint64_t seq, struct xnode *n)
{
	const struct cfwd_origin *was = routing;
	struct cfwd_link	*wasl = routing_link;
	struct cfwd_origin	 o;
	struct xconn		*c;
	const char		*name = xnode_name(n);

	if (strcmp(name, "message") != 0 && strcmp(name, "presence") != 0 &&
	    strcmp(name, "iq") != 0) {
		log_debug("cpseudo_route_from: %s: not a stanza: %s", id, name);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.epoch = epoch;
	o.seq = seq;
	o.pass = ++npass;
	if (l == NULL && epoch != 0) {
		o.kind = kind;
		o.from = id;
		o.st = n;
	}
	if ((c = clink_find(l, kind, id)) != NULL) {
		routing = epoch != 0 ? &o : NULL;
		routing_link = epoch != 0 ? l : NULL;
		router_route(c, n);
		routing = was;
		routing_link = wasl;
		return;
	}
	if (kind == XC_CLIENT && strcmp(name, "presence") == 0 &&
	    xnode_attr(n, "to") == NULL)
		return;
	if ((c = cpseudo_new(&transient_link, kind, id)) == NULL) {
		log_debug("cpseudo_route_from: bad origin %s", id);
		return;
	}
	if (kind == XC_CLIENT)
		c->full = xstrdup(id);
	routing = epoch != 0 ? &o : NULL;
	routing_link = epoch != 0 ? l : NULL;
	router_route(c, n);
	routing = was;
	routing_link = wasl;
	xconn_free(c);
}

/*
 * Route link l's <s> frame f (numbered seq, the caller's) from id
 * (kind): its stanza, or one that came back (back='1': id, its
 * recipient on l's node, has gone; cpseudo_back), or one that node's
 * core would send its SM session id itself (l='1'): sent back to it,
 * numbered (cfwd_send).
 */
void
cpseudo_route_s(struct cfwd_link *l, int kind, const char *id, uint64_t seq,
    struct xnode *f)
{
	struct xconn	*c;

	if (xnode_attr(f, "l") != NULL) {
		if (kind == XC_CLIENT && xnode_first(f) != NULL &&
		    (c = clink_find(l, XC_CLIENT, id)) != NULL)
			xconn_send(c, xnode_first(f));
	} else if (xnode_attr(f, "back") == NULL) {
		if (kind == XC_CLIENT)
			csm_lead_in(l, id, seq);
		cpseudo_route_from(l, kind, id, l->epoch, seq, xnode_first(f));
	} else
		cpseudo_back(l, kind, id, l->epoch, seq, xnode_first(f));
}

/*
 * The connection anywhere in the cluster (a local one or a pseudo) that
 * sent from j: a session of ours, else the call bridge of its domain;
 * NULL if it went. *kind and *id (borrowed from c or j) say who it is.
 */
static struct xconn *
cpseudo_sender(const struct jid *j, const char *from, int *kind,
    const char **id)
{
	struct xconn	*c;
	char		*bare;

	if (j->local != NULL && j->resource != NULL &&
	    strcmp(j->domain, xmpp_domain()) == 0) {
		*kind = XC_CLIENT;
		*id = from;
		xasprintf(&bare, "%s@%s", j->local, j->domain);
		c = router_resource(bare, j->resource);
		free(bare);
		return (c);
	}
	*kind = XC_COMPONENT;
	*id = j->domain;
	if ((c = router_component(j->domain)) != NULL)
		*id = c->cdomain;
	return (c);
}

/*
 * A stanza st (the caller's) for gone, a session or call bridge of link
 * l's node (NULL: of ours), came back: that node no longer has it. A
 * pseudo we still have for it is stale and goes. Then st is routed
 * again from its sender (found by its from, anywhere in the cluster; a
 * transient stand-in if it went, whose errors go nowhere), under the
 * origin of its coming back (epoch, seq: the node that sent it back and
 * its number for it), so the router does what RFC 6121 8.5.3.2
 * says for a full JID with no matching resource: a chat or normal
 * message to the bare JID's available resources, else an error to the
 * sender; an iq, an error; presence nowhere.
 */
void
cpseudo_back(struct cfwd_link *l, int kind, const char *gone,
    uint64_t epoch, uint64_t seq, struct xnode *st)
{
	const struct cfwd_origin *was = routing;
	struct cfwd_link	*wasl = routing_link;
	struct cfwd_origin	 o;
	struct xconn		*c, *transient;
	struct jid		 j;
	const char		*from, *id;
	int			 skind;

	if (st == NULL || strcmp(xnode_name(st), "presence") == 0)
		return;
	if (l != NULL && (c = clink_find(l, kind, gone)) != NULL) {
		log_info("cpseudo_back: %s has no %s any more", l->addr, gone);
		cpseudo_drop(c, 1);
	}
	memset(&j, 0, sizeof(j));
	if ((from = xnode_attr(st, "from")) == NULL ||
	    jid_parse(from, &j) == -1) {
		log_debug("cpseudo_back: a stanza for %s without a sender",
		    gone);
		jid_clear(&j);
		return;
	}
	log_debug("cpseudo_back: <%s> from %s for %s (gone), routed again",
	    xnode_name(st), from, gone);
	if ((c = cpseudo_sender(&j, from, &skind, &id)) != NULL)
		transient = NULL;
	else if ((c = transient = cpseudo_new(&transient_link, skind,
	    id)) == NULL) {
		log_debug("cpseudo_back: bad sender %s", from);
		jid_clear(&j);
		return;
	} else if (skind == XC_CLIENT)
		transient->full = xstrdup(id);
	/*
	 * Not as a stanza of ours (no o.from), even if the sender is: the
	 * node that sent it back keeps it until we are done with it, and
	 * sends it again to the next leader if we go first.
	 */
	memset(&o, 0, sizeof(o));
	o.epoch = epoch;
	o.seq = seq;
	o.pass = ++npass;
	routing = epoch != 0 ? &o : NULL;
	routing_link = epoch != 0 ? l : NULL;
	carbons_quiet(1);	/* copies were made the first time */
	router_route(c, st);
	carbons_quiet(0);
	routing = was;
	routing_link = wasl;
	if (transient != NULL)
		xconn_free(transient);
	jid_clear(&j);
}

/*
 * A leader routes a stanza of its own connection from under an origin of
 * this process, numbered as a follower numbers what it forwards: the <d>
 * frames it makes carry it (their receivers note it), and what none
 * acknowledged when we step down goes to our queue under the same
 * number, for the next leader (relay.c, crelay_requeue); a receiver
 * drops the repeat. 0 if the router must route it itself: not the
 * leader, or within the routing of a stanza with an origin (this one,
 * or one of ours kept while we followed or settled, which keeps its).
 */
int
cfwd_route_local(struct xconn *from, struct xnode *n)
{
	struct cfwd_origin	 o;
	const char		*id;

	id = from->kind == XC_CLIENT ? from->full : from->cdomain;
	if (routing != NULL || cfwd_role_get() != CFWD_LEADER || id == NULL)
		return (0);
	memset(&o, 0, sizeof(o));
	o.epoch = cfwd_epoch();
	o.seq = cfwd_seq_next();
	o.pass = ++npass;
	o.kind = from->kind;
	o.from = id;
	o.st = n;
	routing = &o;
	router_route(from, n);
	routing = NULL;
	if (from->kind == XC_CLIENT && strcmp(xnode_name(n), "presence") == 0 &&
	    xnode_attr(n, "to") == NULL)
		csm_lead_presence(from);	/* its copies have it */
	return (1);
}

/* The origin of the stanza being routed now, or NULL (borrowed). */
const struct cfwd_origin *
cpseudo_origin(void)
{
	return (routing);
}

/*
 * The hold hook: the forwarded stanza being routed now from pseudo c is
 * not done when routed (a roster change waits for the log). Its link's
 * <ack> stops short of it until cpseudo_release; a handle, or 0 if it is
 * not a follower's numbered stanza.
 */
uint64_t
cpseudo_hold(struct xconn *c)
{
	struct cpseudo_hold	*h;

	if (routing == NULL || routing_link == NULL || c->remote == NULL)
		return (0);
	h = xcalloc(1, sizeof(*h));
	while (++nextholdid == 0)
		;
	h->id = nextholdid;
	h->link = routing_link->serial;
	h->seq = routing->seq;
	TAILQ_INSERT_TAIL(&holds, h, entry);
	log_debug("cpseudo_hold: %s: %llu held", routing_link->addr,
	    (unsigned long long)h->seq);
	return (h->id);
}

/* The release hook: a held stanza is done; acknowledge what is due. */
void
cpseudo_release(uint64_t id)
{
	struct cpseudo_hold	*h;

	TAILQ_FOREACH(h, &holds, entry)
		if (h->id == id)
			break;
	if (h == NULL)
		return;
	TAILQ_REMOVE(&holds, h, entry);
	if (clead_link_by_serial(h->link) != NULL && !csettle_active())
		clead_ack_all();
	free(h);
}

/* The last <s> of link l that may be acknowledged, given pseq routed. */
uint64_t
cpseudo_held_upto(const struct cfwd_link *l, uint64_t pseq)
{
	struct cpseudo_hold	*h;

	TAILQ_FOREACH(h, &holds, entry)
		if (h->link == l->serial && h->seq <= pseq)
			pseq = h->seq - 1;
	return (pseq);
}

/*
 * The router would hand the stanza being routed to c, a connection of
 * this node: not if c had it already (a replay, after the leader that
 * first routed it died before its follower heard it was done).
 */
int
cfwd_local_ok(struct xconn *c)
{
	const char	*to;

	if (routing == NULL || c->remote != NULL)
		return (1);
	to = c->kind == XC_CLIENT ? c->full : c->cdomain;
	if (to == NULL || clink_origin_new(routing, to))
		return (1);
	log_debug("cfwd_local_ok: %s had %llu of %016llx already", to,
	    (unsigned long long)routing->seq,
	    (unsigned long long)routing->epoch);
	return (0);
}

/*
 * Leader: <bind>: a session of that node, as a pseudo in the router
 * (once: a repeated bind, or one a link took over, only refreshes it),
 * then its presence as it is now: noted, and broadcast only if its
 * contacts may not know it. They know it if we had it available, or if
 * the follower says a leader routed it (announced='1') and we never said
 * that process's sessions were gone; a presence still in the follower's
 * queue is not in the <bind> but comes as it is replayed.
 */
void
cpseudo_bind(struct cfwd_link *l, struct xnode *n)
{
	const char	*jid = xnode_attr(n, "jid"), *cond = "conflict";
	const char	*roster = xnode_attr(n, "roster");
	const char	*carbons = xnode_attr(n, "carbons");
	const char	*said = xnode_attr(n, "announced");
	struct csm_stanzas resend = TAILQ_HEAD_INITIALIZER(resend);
	struct xconn	*c;
	struct xnode	*p;
	char		*max;
	int		 limit = 0, quiet;

	if (jid == NULL)
		return;
	if (clink_find(l, XC_CLIENT, jid) == NULL)
		csm_wake(l, jid, n);	/* a hibernating SM session wakes */
	if ((c = clink_find(csm_hib_link(), XC_CLIENT, jid)) != NULL) {
		/* Adopted from its copy, but its node (the leader before
		 * us, paused or stepped down) is alive: its registration
		 * wins, and gets what we sent the session meanwhile. */
		log_info("cpseudo_bind: %s on %s: no longer hibernating here",
		    jid, l->addr);
		csm_readopt(c, n, &resend);
	}
	if ((c = clink_find(l, XC_CLIENT, jid)) != NULL)
		quiet = c->available;
	else {
		quiet = !l->announce && said != NULL && strcmp(said, "1") == 0;
		if ((c = cpseudo_new(l, XC_CLIENT, jid)) == NULL) {
			log_warnx("cpseudo_bind: %s: bad JID %s", l->addr, jid);
			csm_resend(NULL, &resend);
			return;
		}
		if ((max = db_config_get(mmpd->db,
		    DB_XMPP_MAX_SESSIONS)) != NULL)
			limit = atoi(max);
		free(max);
		if (router_bind(c, limit, &cond) == -1) {
			log_info("cpseudo_bind: %s on %s refused: %s", jid,
			    l->addr, cond);
			cpseudo_kill(l, jid, cond, "too many sessions");
			xconn_free(c);
			csm_resend(NULL, &resend);
			return;
		}
		TAILQ_INSERT_TAIL(&l->pseudos, c, entry);
		l->nsess++;
		log_debug("cpseudo_bind: %s bound on %s", c->full, l->addr);
		clead_moved(l, XC_CLIENT, c->full);
	}
	cpseudo_carried_del(l, jid);		/* it is back */
	csm_seed(l, c, n);			/* an SM session's mirror */
	csm_resend(c, &resend);
	if (roster != NULL && strcmp(roster, "1") == 0)
		c->roster_wanted = 1;
	c->carbons = carbons != NULL && strcmp(carbons, "1") == 0;
	p = xnode_first(n);
	if (p != NULL && strcmp(xnode_name(p), "presence") == 0 &&
	    xnode_attr(p, "type") == NULL) {
		xnode_set_ns(n, NULL);	/* p must not inherit ours */
		xnode_set_attr(p, "from", c->full);
		xnode_del_attr(p, "to");
		if (quiet) {
			presence_note(c, p);	/* its contacts know it */
			offline_available(c);	/* stored while away */
		} else
			router_route(c, p);
	}
}

/* Leader: <comp>: a call bridge of that node, as a pseudo component. */
void
cpseudo_comp(struct cfwd_link *l, struct xnode *n)
{
	const char	*d = xnode_attr(n, "domain");
	struct xconn	*c;

	if (d == NULL)
		return;
	cpseudo_carried_del(l, d);		/* it is back */
	if (clink_find(l, XC_COMPONENT, d) != NULL)
		return;
	if ((c = cpseudo_new(l, XC_COMPONENT, d)) == NULL) {
		log_warnx("cpseudo_comp: %s: bad domain %s", l->addr, d);
		return;
	}
	router_add_component(c);
	TAILQ_INSERT_TAIL(&l->pseudos, c, entry);
	l->ncomp++;
	clead_moved(l, XC_COMPONENT, c->cdomain);
	log_info("cpseudo_comp: call bridge %s connected to %s", d, l->addr);
}

/*
 * xconn_error or xconn_close of a pseudo: its node closes the real
 * session (with that stream error, if any); here it leaves the router as
 * a closed session does.
 */
void
cfwd_close(struct xconn *c, const char *cond, const char *text)
{
	struct cfwd_link	*l = c->remote;
	const char		*id;

	if (c->closing)
		return;
	if (l == NULL || l == &transient_link) {
		c->closing = 1;
		return;
	}
	id = c->kind == XC_CLIENT ? c->full : c->cdomain;
	log_info("cfwd_close: %s (%s): %s%s%s", id, c->peer,
	    cond ? cond : "closed", text ? ": " : "", text ? text : "");
	cpseudo_kill(l, id, cond, text);
	cpseudo_drop(c, 1);
}

/*
 * Leader: SM session full resumed on link l's node: its pseudo there,
 * bound at once (what is routed to it next goes there, before the node
 * registers it), available with presence (borrowed; NULL: none) as its
 * contacts know it. What other links keep for it is mirrored: emptied
 * without a word (clead_moved). NULL if it is no full JID or the router
 * refuses it.
 */
struct xconn *
cpseudo_resumed(struct cfwd_link *l, const char *full,
    const struct xnode *presence)
{
	struct xconn	*c;
	const char	*cond = NULL;

	if ((c = clink_find(l, XC_CLIENT, full)) != NULL)
		cpseudo_drop(c, 0);
	if ((c = cpseudo_new(l, XC_CLIENT, full)) == NULL)
		return (NULL);
	if (router_bind(c, 0, &cond) == -1) {
		log_warnx("cpseudo_resumed: %s on %s refused: %s", full,
		    l->addr, cond ? cond : "?");
		xconn_free(c);
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&l->pseudos, c, entry);
	l->nsess++;
	if (presence != NULL)
		presence_note(c, presence);
	clead_moved(l, XC_CLIENT, c->full);
	return (c);
}

/*
 * A new leader: the SM session full, of the leader before us, hibernates
 * here as a pseudo on the stand-in link (csm_hib_link), bound and
 * available with presence (borrowed; NULL: none known); NULL if it
 * cannot be.
 */
struct xconn *
cpseudo_hib(const char *full, const struct xnode *presence)
{
	struct cfwd_link	*l = csm_hib_link();
	struct xconn		*c;
	const char		*cond = NULL;

	if ((c = cpseudo_new(l, XC_CLIENT, full)) == NULL)
		return (NULL);
	if (router_bind(c, 0, &cond) == -1) {
		xconn_free(c);
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&l->pseudos, c, entry);
	l->nsess++;
	if (presence != NULL)
		presence_note(c, presence);
	else
		c->available = 1;
	return (c);
}

/*
 * Leader: the unavailable presence of a session that died with the
 * leader before us, to its contacts. 0 if sent, -1 if jid is no session.
 */
int
cpseudo_gone_presence(const char *jid)
{
	struct xconn	*c;

	if ((c = cpseudo_new(&transient_link, XC_CLIENT, jid)) == NULL)
		return (-1);
	c->full = xstrdup(jid);
	c->available = 1;
	presence_gone(c);
	xconn_free(c);
	return (0);
}
