/*
 * Forwarding in a cluster, the leader's side (see follower.c for the
 * whole and the link's frames): the links followers dial to us (their
 * sessions and call bridges are pseudo connections in the router,
 * pseudo.c), what they forward, the <ack> owed for it once deliveries
 * are acknowledged, and what a lost link takes with it. settle.c holds
 * what is forwarded after an election until the followers have
 * registered; relay.c keeps the <d> frames sent to followers.
 *
 * Why <dack>: an <ack> lets the follower forget stanzas, so the leader
 * sends it only once what routing them sent to other followers has
 * reached them; otherwise a leader dying with <d> frames unsent would
 * lose stanzas whose node stays up. What went to the leader's own
 * sessions dies with them. relay.c keeps each follower's <d> frames
 * until acknowledged, numbered for its process: a lost link leaves a
 * holder (clink_holder) with the node's sessions and frames for
 * CLEAD_RELINK_MS; the next link of the same process takes them over
 * and gets the frames again, without a word to the sessions' contacts.
 * Only a process that is gone (a new epoch, or no link in time) takes
 * its sessions with it: their contacts hear they are unavailable, once.
 * A follower that leaves a <d> unacknowledged for CLEAD_DACK_MS holds up
 * every <ack>: its link is closed as if lost.
 *
 * A follower's <s> numbers count on across its links (its epoch names its
 * process): what one link routed, the next of that process skips when
 * the follower sends it again.
 *
 * Nothing here is freed inside the callbacks that may still use it:
 * closed links wait for link.c's reaper, dropped pseudos for ours.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "reaper.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"

#define CLEAD_PEND_MAX		64	/* <ack>s owed a link, then merged */
#define CLEAD_DACK_MS		10000	/* for a <d> to be acknowledged */
#define CLEAD_DCHECK_MS		1000	/* and how often that is checked */
#define CLEAD_SEEN_MAX		64	/* follower processes remembered */
#define CLEAD_RELINK_MS		3000	/* a lost link's sessions wait */
#define CLEAD_SILENT_MS		2000	/* a follower unheard in raft for
					   the election timeout and this */

/* <d> frames of another follower that must be delivered first. */
struct clead_need {
	uint64_t		 link;		/* its numbering (dbox) */
	uint64_t		 count;
};

/* An <ack> the leader owes, waiting for deliveries. */
struct clead_pend {
	TAILQ_ENTRY(clead_pend)	 entry;
	uint64_t		 seq;
	struct clead_need	*need;
	size_t			 n;
};

/* The last <s> routed from a follower's process, whatever its link. */
struct clead_seen {
	TAILQ_ENTRY(clead_seen)	 entry;
	uint64_t		 id;		/* its node */
	uint64_t		 epoch;		/* its process */
	uint64_t		 seq;
	int			 gone;		/* its sessions said gone */
};

static struct cfwd_links links = TAILQ_HEAD_INITIALIZER(links);
static TAILQ_HEAD(clead_seens, clead_seen) seen =
    TAILQ_HEAD_INITIALIZER(seen);
static int		 nseen;

static struct event	*dcheck_ev;

static void	 clead_start(struct cfwd_link *, const char **);
static void	 clead_frame(struct cfwd_link *, struct xnode *);
static void	 clead_read(struct cfwd_link *);
static void	 clead_lost(struct cfwd_link *, const char *);
static void	 clead_seen_note(struct cfwd_link *);
static struct clead_seen *clead_seen_find(struct cfwd_link *);
static void	 clead_replace(struct cfwd_link *, struct cfwd_link *);
static void	 clead_move(struct cfwd_link *, struct cfwd_link *);
static void	 clead_resume(struct cfwd_link *, struct cfwd_link *);
static void	 clead_hold(struct cfwd_link *, const char *);
static struct cfwd_link *clead_link_by_box(uint64_t);
static void	 clead_link_cut(struct cfwd_link *);
static void	 clead_link_clear(struct cfwd_link *, int);
static void	 clead_link_close(struct cfwd_link *, int);
static void	 clead_stanza(struct cfwd_link *, struct xnode *);
static void	 clead_mark(struct cfwd_link *);
static void	 clead_flush(struct cfwd_link *);
static void	 clead_flush_all(void);
static void	 clead_dcheck(evutil_socket_t, short, void *);
static void	 clead_dcheck_soon(void);
static int64_t	 clead_silent_ms(void);
static void	 clead_tell_all(struct cfwd_link *);

static const struct clink_ops clead_ops = {
	clead_start, clead_frame, clead_read, clead_lost
};

/* The leader's events (and the reaper's), made once the loop exists. */
void
clead_events(void)
{
	cpseudo_events();
	csettle_events();
	csm_events();
	if (dcheck_ev == NULL)
		dcheck_ev = evtimer_new(mmpd->base, clead_dcheck, NULL);
}

/*
 * At exit, once every link is closed: reap, then free the events and what
 * we remember of followers.
 */
void
clead_free(void)
{
	struct clead_seen	*e;

	csm_free();
	cpseudo_free();
	if (dcheck_ev != NULL)
		event_free(dcheck_ev);
	dcheck_ev = NULL;
	while ((e = TAILQ_FIRST(&seen)) != NULL) {
		TAILQ_REMOVE(&seen, e, entry);
		free(e);
	}
	nseen = 0;
	csettle_free();
}

/* A live follower link by serial, or NULL. */
struct cfwd_link *
clead_link_by_serial(uint64_t serial)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		if (l->serial == serial)
			return (l);
	return (NULL);
}

/* A follower link (or holder) by the numbering of its <d>, or NULL. */
static struct cfwd_link *
clead_link_by_box(uint64_t box)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		if (l->dbox == box)
			return (l);
	return (NULL);
}

/*
 * A follower's stream started (with its epoch). An earlier link of the
 * same node goes: of the same process, l takes over its sessions and
 * <d> frames (sent again); of another, its sessions end unless l binds
 * them again. Our header names l's numbering of <d> frames. If l comes
 * from a process whose earlier link routed stanzas, those are not
 * routed again; if we said its sessions were gone, they are announced
 * again as they bind.
 */
static void
clead_start(struct cfwd_link *l, const char **attrs)
{
	struct cfwd_link	*o, *next;
	struct clead_seen	*e;

	if (clink_num(xconn_attr(attrs, "epoch"), &l->epoch) == -1)
		l->epoch = 0;
	for (o = TAILQ_FIRST(&links); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (o == l || l->id == 0 || o->id != l->id)
			continue;
		if (l->epoch != 0 && o->epoch == l->epoch)
			clead_resume(o, l);
		else
			clead_replace(o, l);
	}
	if (l->dbox == 0)
		crelay_new(l);
	clink_header(l, l->dbox);
	if (!l->relinked)
		crelay_resend(l);
	if (l->id == 0 || l->epoch == 0 || (e = clead_seen_find(l)) == NULL)
		return;
	if (e->gone)
		l->announce = 1;
	l->floor = e->seq;
	log_debug("clead_start: %s linked again, stanzas up to %llu are "
	    "routed already", l->addr, (unsigned long long)l->floor);
}

/* What we remember of the process of l's follower, or NULL. */
static struct clead_seen *
clead_seen_find(struct cfwd_link *l)
{
	struct clead_seen	*e;

	TAILQ_FOREACH(e, &seen, entry)
		if (e->id == l->id)
			break;
	if (e == NULL || e->epoch != l->epoch)
		return (NULL);
	return (e);
}

/* Remember what a follower's closing link routed (of its process). */
static void
clead_seen_note(struct cfwd_link *l)
{
	struct clead_seen	*e;
	uint64_t		 seq;

	if (l->up || l->id == 0 || l->epoch == 0)
		return;
	TAILQ_FOREACH(e, &seen, entry)
		if (e->id == l->id)
			break;
	if (e != NULL)
		TAILQ_REMOVE(&seen, e, entry);
	else if (nseen >= CLEAD_SEEN_MAX) {
		e = TAILQ_LAST(&seen, clead_seens);
		TAILQ_REMOVE(&seen, e, entry);
		memset(e, 0, sizeof(*e));
	} else {
		e = xcalloc(1, sizeof(*e));
		nseen++;
	}
	seq = cpseudo_held_upto(l, l->pseq);	/* held: routed again */
	if (seq < l->floor)
		seq = l->floor;
	if (e->epoch != l->epoch || e->id != l->id || seq > e->seq)
		e->seq = seq;
	if (e->epoch != l->epoch || e->id != l->id)
		e->gone = 0;
	e->id = l->id;
	e->epoch = l->epoch;
	TAILQ_INSERT_HEAD(&seen, e, entry);
}

/* Stop a link's traffic and queue it for the reaper. */
static void
clead_link_cut(struct cfwd_link *l)
{
	struct clead_pend	*p;

	if (l->dead)
		return;
	TAILQ_REMOVE(&links, l, entry);
	clink_cut(l);
	while ((p = TAILQ_FIRST(&l->pend)) != NULL) {
		TAILQ_REMOVE(&l->pend, p, entry);
		free(p->need);
		free(p);
	}
	l->npend = 0;
	l->ndmarks = 0;
	csettle_drop(l->serial);	/* the follower sends it again */
	clead_seen_note(l);
}

/*
 * Drop the pseudo connections of a cut link; gone: their contacts get
 * unavailable presence (the node or its link died), and so do sessions
 * of a link it replaced that it did not bind again; else they vanish
 * silently (leadership moves on, and the next leader learns them again).
 */
static void
clead_link_clear(struct cfwd_link *l, int gone)
{
	struct xconn	*c;

	while ((c = TAILQ_FIRST(&l->pseudos)) != NULL)
		if (!gone || !csm_hibernate(c))
			cpseudo_drop(c, gone);
	if (gone)
		cpseudo_carried_gone(l);
	else
		clink_jids_clear(&l->carried);
}

/*
 * The node of link o linked again (as l): o goes without a word to the
 * contacts of its sessions, which l binds again with their presence.
 * Those that were available are noted, and those not bound again by
 * l's <synced/> are unavailable then.
 */
static void
clead_replace(struct cfwd_link *o, struct cfwd_link *l)
{
	struct xconn	*c;

	log_info("clead_replace: %s linked again, its old link goes",
	    o->addr);
	TAILQ_FOREACH(c, &o->pseudos, entry)
		if (c->kind == XC_CLIENT && c->available && c->full != NULL)
			clink_jids_add(&l->carried, c->full);
	TAILQ_CONCAT(&l->carried, &o->carried, entry);
	csm_hibernate_link(o);	/* its SM sessions may resume */
	crelay_answer_all(o);	/* its process, and sessions, are gone */
	clead_link_close(o, 0);
}

/*
 * Link l takes over o's sessions and call bridges (as they are: no word
 * to their contacts), noted as carried until l binds them again, and
 * o's numbered <d> frames.
 */
static void
clead_move(struct cfwd_link *o, struct cfwd_link *l)
{
	struct xconn	*c;

	while ((c = TAILQ_FIRST(&o->pseudos)) != NULL) {
		TAILQ_REMOVE(&o->pseudos, c, entry);
		TAILQ_INSERT_TAIL(&l->pseudos, c, entry);
		c->remote = l;
		clink_jids_add(&l->carried, c->kind == XC_CLIENT ? c->full :
		    c->cdomain);
	}
	l->nsess += o->nsess;
	l->ncomp += o->ncomp;
	o->nsess = o->ncomp = 0;
	TAILQ_CONCAT(&l->carried, &o->carried, entry);
	crelay_move(o, l);
	l->announce = o->announce;
}

/*
 * The process of o's node linked again (as l): l takes over o, whose
 * <d> frames not acknowledged go out again.
 */
static void
clead_resume(struct cfwd_link *o, struct cfwd_link *l)
{
	log_info("clead_resume: %s linked again: %d sessions, %d call "
	    "bridges and %zu stanzas for them carried over", l->addr,
	    o->nsess, o->ncomp, o->nkept);
	clead_move(o, l);
	l->relinked = 1;	/* its frames wait for <synced/> */
	clead_link_close(o, 0);
}

/*
 * Link l was lost while its node may live: a holder keeps its sessions
 * and <d> frames for CLEAD_RELINK_MS, for the next link of its process.
 */
static void
clead_hold(struct cfwd_link *l, const char *why)
{
	struct cfwd_link	*h;

	log_info("clead_lost: link from %s: %s; its %d sessions and %d call "
	    "bridges wait %d ms for it to link again", l->addr, why, l->nsess,
	    l->ncomp, CLEAD_RELINK_MS);
	h = clink_holder(l);
	h->synced = l->synced;
	h->lost_ms = cnet_now_ms();
	clead_move(l, h);
	TAILQ_INSERT_AFTER(&links, l, h, entry);
	clead_link_cut(l);
	clead_flush_all();
	clead_dcheck_soon();
}

/*
 * Close a link: its traffic, its pseudos (gone: its process is, and we
 * remember having said so), then (later) its memory.
 */
static void
clead_link_close(struct cfwd_link *l, int gone)
{
	struct clead_seen	*e;

	if (l->dead)
		return;
	clead_link_cut(l);
	if (gone && l->id != 0 && l->epoch != 0 &&
	    (e = clead_seen_find(l)) != NULL)
		e->gone = 1;
	if (gone)
		crelay_answer_all(l);
	clead_link_clear(l, gone);
	crelay_clear(l);
	clead_flush_all();	/* acks that waited for it */
}

/* Close every follower link, all cut before any pseudo goes. */
void
clead_links_close(int gone)
{
	struct cfwd_link	*l, **cut = NULL;
	size_t			 n = 0, i;

	while ((l = TAILQ_FIRST(&links)) != NULL) {
		cut = xreallocarray(cut, n + 1, sizeof(*cut));
		cut[n++] = l;
		clead_link_cut(l);
	}
	for (i = 0; i < n; i++)
		clead_link_clear(cut[i], gone);
	free(cut);
}

/*
 * We step down: the stanzas of ours that no follower acknowledged go to
 * our queue for the next leader (relay.c), before the links close.
 */
void
clead_links_requeue(void)
{
	struct cfwd_link	*l;
	size_t			 n = 0;

	TAILQ_FOREACH(l, &links, entry)
		n += crelay_requeue(l);
	if (n > 0)
		log_info("clead_links_requeue: %zu frames of our own stanzas "
		    "not acknowledged: kept for the next leader (%zu queued)",
		    n, cfwd_queued());
}

/*
 * A follower's link failed or ended: a holder keeps what it had for the
 * next link of its process, if it has one we would know again; a holder
 * that is lost closes for good.
 */
static void
clead_lost(struct cfwd_link *l, const char *why)
{
	if (l->dead)
		return;
	if (!l->holder && l->id != 0 && l->epoch != 0 &&
	    cfwd_role_get() == CFWD_LEADER) {
		clead_hold(l, why);
		return;
	}
	log_info("clead_lost: link from %s: %s; %d sessions and %d call "
	    "bridges of that node are gone", l->addr, why, l->nsess, l->ncomp);
	clead_link_close(l, 1);
}

/*
 * Close the links of followers whose peer is no longer the member it was
 * (removed, or its pin changed): the reaper frees them.
 */
void
clead_recheck(void)
{
	struct cfwd_link	*l, *next;

	for (l = TAILQ_FIRST(&links); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		if (!l->dead && cluster_peer_member(l->id, l->addr,
		    l->ident) == 0)
			clead_lost(l, "no longer a member with that "
			    "certificate");
	}
}

/*
 * A follower linked to us (or so it hopes). A newer link of the same
 * node replaces the old one once its stream header says which process
 * it comes from (clead_start).
 */
void
cfwd_accept(struct bufferevent *bev, const struct cnet_hello *h, void *arg)
{
	struct cfwd_link	*l;

	(void)arg;
	if (cfwd_role_get() != CFWD_LEADER) {
		log_info("cfwd_accept: %s: this node is not the leader, "
		    "refusing its link", h->addr);
		bufferevent_free(bev);
		return;
	}
	l = clink_new(bev, 0, h, &clead_ops, NULL);
	l->since_ms = cnet_now_ms();
	TAILQ_INSERT_TAIL(&links, l, entry);
	clead_dcheck_soon();
	log_info("cfwd_accept: follower %s linked", l->addr);
	clink_pending(l);
}

/* Leader: what a read routed is acknowledged, unless settling. */
static void
clead_read(struct cfwd_link *l)
{
	if (!csettle_active()) {
		clead_mark(l);
		clead_flush(l);
	}
}

/* Leader: a frame from a follower, ours to free. */
static void
clead_frame(struct cfwd_link *l, struct xnode *n)
{
	const char	*name = xnode_name(n), *v;
	struct xconn	*c;
	uint64_t	 u;

	if (strcmp(name, "s") == 0) {
		clead_stanza(l, n);
		return;
	}
	if (csm_lead_frame(l, n))
		;			/* stream management, smlead.c */
	else if (strcmp(name, "bind") == 0)
		cpseudo_bind(l, n);
	else if (strcmp(name, "comp") == 0)
		cpseudo_comp(l, n);
	else if (strcmp(name, "unbind") == 0) {
		if ((v = xnode_attr(n, "jid")) != NULL &&
		    (c = clink_find(l, XC_CLIENT, v)) != NULL) {
			log_debug("clead_frame: %s left on %s", v, l->addr);
			cpseudo_drop(c, 1);
		}
	} else if (strcmp(name, "uncomp") == 0) {
		if ((v = xnode_attr(n, "domain")) != NULL &&
		    (c = clink_find(l, XC_COMPONENT, v)) != NULL) {
			log_info("clead_frame: call bridge %s left %s", v,
			    l->addr);
			cpseudo_drop(c, 1);
		}
	} else if (strcmp(name, "synced") == 0) {
		l->synced = 1;
		if (l->relinked)
			cpseudo_carried_unsent(l);
		cpseudo_carried_gone(l);
		if (l->relinked) {
			l->relinked = 0;
			crelay_resend(l);
		}
		clead_tell_all(l);
		csm_copy_snapshot(l);	/* our SM sessions' copies */
		log_debug("clead_frame: %s registered %d sessions and %d "
		    "call bridges", l->addr, l->nsess, l->ncomp);
		csettle_check();
	} else if (strcmp(name, "dack") == 0) {
		if (clink_num(xnode_attr(n, "n"), &u) == 0 &&
		    crelay_ack(l, u))
			clead_flush_all();
	} else
		log_debug("clead_frame: %s: unknown <%s>", l->addr, name);
	xnode_free(n);
}

/* Leader: <s>: route it now, or hold it while settling. */
static void
clead_stanza(struct cfwd_link *l, struct xnode *n)
{
	const char		*from = xnode_attr(n, "from");
	const char		*k = xnode_attr(n, "k");
	struct xnode		*st = xnode_first(n);
	uint64_t		 seq;
	int			 kind;

	if (clink_num(xnode_attr(n, "seq"), &seq) == -1 || seq <= l->rseq) {
		log_warnx("clead_stanza: %s: bad or repeated seq", l->addr);
		xnode_free(n);
		return;
	}
	l->rseq = seq;
	if (seq <= l->floor) {
		/* Its previous link had it routed: done with. */
		log_debug("clead_stanza: %s: %llu was routed already",
		    l->addr, (unsigned long long)seq);
		l->pseq = seq;
		xnode_free(n);
		return;
	}
	kind = k != NULL && strcmp(k, "k") == 0 ? XC_COMPONENT : XC_CLIENT;
	if (from == NULL || st == NULL) {
		log_warnx("clead_stanza: %s: <s> without origin or stanza",
		    l->addr);
		l->pseq = seq;
		xnode_free(n);
		return;
	}
	xnode_set_ns(n, NULL);		/* st must not inherit ours */
	if (!csettle_active() && !csettle_leads()) {
		/* Stepping down, or not sure we still lead: hold. */
		if (cluster_routing_ok())
			log_info("clead_stanza: no majority heard within the "
			    "election timeout: holding what followers send");
		csettle_start(0, 0);
	}
	if (csettle_active()) {
		csettle_hold(l, seq, kind, from, n);
		return;
	}
	cpseudo_route_s(l, kind, from, seq, n);
	l->pseq = seq;
	xnode_free(n);
}

/*
 * Leader: note that every <s> of l up to pseq is routed and done: up to
 * the one before the first that cpseudo_hold holds. Its <ack> waits until
 * the <d> frames other links have been given so far are delivered.
 * Beyond CLEAD_PEND_MAX owed, the newest takes the place of the last:
 * what it waits for includes what the last waited for, since <d> counts
 * only grow.
 */
static void
clead_mark(struct cfwd_link *l)
{
	struct clead_pend	*p, *last;
	struct cfwd_link	*o;
	struct xnode		*f;
	uint64_t		 upto = cpseudo_held_upto(l, l->pseq);

	if (upto <= l->marked || l->holder)
		return;
	l->marked = upto;
	p = xcalloc(1, sizeof(*p));
	p->seq = upto;
	TAILQ_FOREACH(o, &links, entry) {
		if (o == l || o->dsent <= o->dacked)
			continue;
		p->need = xreallocarray(p->need, p->n + 1, sizeof(*p->need));
		p->need[p->n].link = o->dbox;
		p->need[p->n].count = o->dsent;
		p->n++;
	}
	if (p->n == 0 && TAILQ_EMPTY(&l->pend)) {
		free(p);
		f = clink_frame("ack", NULL, NULL);
		clink_set_num(f, "seq", upto);
		clink_send(l, f);
		l->acked = upto;
		return;
	}
	if (l->npend >= CLEAD_PEND_MAX &&
	    (last = TAILQ_LAST(&l->pend, clead_pends)) != NULL) {
		last->seq = p->seq;
		free(last->need);
		last->need = p->need;
		last->n = p->n;
		free(p);
		return;
	}
	TAILQ_INSERT_TAIL(&l->pend, p, entry);
	l->npend++;
}

/* Leader: send the <ack> whose deliveries are done. */
static void
clead_flush(struct cfwd_link *l)
{
	struct clead_pend	*p;
	struct cfwd_link	*o;
	struct xnode		*f;
	uint64_t		 ack = 0;
	size_t			 i;

	while ((p = TAILQ_FIRST(&l->pend)) != NULL) {
		for (i = 0; i < p->n; i++) {
			o = clead_link_by_box(p->need[i].link);
			if (o != NULL && o->dacked < p->need[i].count)
				break;
		}
		if (i < p->n)
			break;
		ack = p->seq;
		TAILQ_REMOVE(&l->pend, p, entry);
		l->npend--;
		free(p->need);
		free(p);
	}
	if (ack > l->acked) {
		f = clink_frame("ack", NULL, NULL);
		clink_set_num(f, "seq", ack);
		clink_send(l, f);
		l->acked = ack;
	}
}

/* Leader: flush every link's owed <ack>. */
static void
clead_flush_all(void)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		clead_flush(l);
}

/*
 * Note that a <d> frame went out on l: one mark a second says how many
 * had gone by when, until they are acknowledged. Marks beyond
 * CFWD_DMARKS move the last one on, which only makes the check later.
 */
void
clead_dmark(struct cfwd_link *l)
{
	struct timeval		 tv = { CLEAD_DCHECK_MS / 1000, 0 };
	struct cfwd_dmark	*m = NULL;
	int64_t			 now = cnet_now_ms();

	if (l->ndmarks > 0)
		m = &l->dmarks[l->ndmarks - 1];
	if (m == NULL || (m->ms / CLEAD_DCHECK_MS != now / CLEAD_DCHECK_MS &&
	    l->ndmarks < CFWD_DMARKS))
		m = &l->dmarks[l->ndmarks++];
	m->n = l->dsent;
	m->ms = now;
	if (dcheck_ev != NULL && !evtimer_pending(dcheck_ev, NULL))
		evtimer_add(dcheck_ev, &tv);
}

/* Forget the marks of l's <d> frames that are acknowledged. */
void
clead_dmarks_pop(struct cfwd_link *l)
{
	int	 i;

	for (i = 0; i < l->ndmarks && l->dmarks[i].n <= l->dacked; i++)
		;
	if (i == 0)
		return;
	memmove(l->dmarks, l->dmarks + i, (l->ndmarks - i) *
	    sizeof(*l->dmarks));
	l->ndmarks -= i;
}

/* Leader: every link is owed the <ack> of what it routed; send what is due. */
void
clead_ack_all(void)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		clead_mark(l);
	clead_flush_all();
}

/* Whether the link of member id has registered its sessions. */
int
clead_synced(uint64_t id)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		if (l->id == id && l->synced)
			return (1);
	return (0);
}

/* Have clead_dcheck run in CLEAD_DCHECK_MS, unless it is due already. */
static void
clead_dcheck_soon(void)
{
	struct timeval	 tv = { CLEAD_DCHECK_MS / 1000, 0 };

	if (dcheck_ev != NULL && !evtimer_pending(dcheck_ev, NULL))
		evtimer_add(dcheck_ev, &tv);
}

/*
 * How long a follower may go unheard in raft before its link counts as
 * lost: the election timeout in use and CLEAD_SILENT_MS; 0 if raft does
 * not run.
 */
static int64_t
clead_silent_ms(void)
{
	struct cluster_status	*st;
	int64_t			 ms = 0;

	if ((st = cluster_status()) != NULL) {
		ms = (int64_t)st->election_ms + CLEAD_SILENT_MS;
		cluster_status_free(st);
	}
	return (ms);
}

/*
 * Leader, every CLEAD_DCHECK_MS while it has follower links: a follower
 * that has left a <d> unacknowledged for CLEAD_DACK_MS holds up the <ack>
 * of every other, and the leader's memory; a follower not heard in raft
 * for clead_silent_ms() is cut off (a partition, a power cut: its link
 * may never say so). Either link is closed as if lost (a holder keeps its
 * sessions and frames); if the node lives, it links again and takes them
 * over. A holder that waited CLEAD_RELINK_MS in vain closes: its node's
 * sessions are gone, and their contacts hear so.
 */
static void
clead_dcheck(evutil_socket_t fd, short what, void *arg)
{
	struct timeval		 tv = { CLEAD_DCHECK_MS / 1000, 0 };
	struct cfwd_link	*l;
	int64_t			 now = cnet_now_ms(), silent, heard;
	int			 more;

	(void)fd;
	(void)what;
	(void)arg;
	silent = clead_silent_ms();
again:
	more = 0;
	TAILQ_FOREACH(l, &links, entry) {
		if (l->holder) {
			if (now - l->lost_ms < CLEAD_RELINK_MS) {
				more = 1;
				continue;
			}
			clead_lost(l, "it did not link again in time");
			goto again;
		}
		more = 1;
		/* Heard since it linked (not a stand-in's id), now quiet. */
		if (silent > 0 && l->id != 0 &&
		    (heard = cnet_last_heard(l->id)) >= l->since_ms &&
		    now - heard > silent) {
			log_warnx("clead_dcheck: %s not heard for %lld ms, "
			    "closing its link", l->addr,
			    (long long)(now - heard));
			clead_lost(l, "its node is silent");
			goto again;
		}
		if (l->ndmarks == 0)
			continue;
		if (now - l->dmarks[0].ms > CLEAD_DACK_MS) {
			log_warnx("clead_dcheck: %s has not acknowledged "
			    "stanzas sent %lld ms ago, closing its link",
			    l->addr, (long long)(now - l->dmarks[0].ms));
			clead_lost(l, "stanzas not acknowledged");
			goto again;
		}
		more = 1;
	}
	if (more)
		evtimer_add(dcheck_ev, &tv);
}

/*
 * Leader: this node shuts down; tell every follower, so that the one
 * that takes over does not wait for us to link to it.
 */
void
cfwd_leaving(void)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		clink_send(l, clink_frame("bye", NULL, NULL));
}

/*
 * Recipient id (kind) registered on link at (NULL: one of ours): what
 * the other links keep for an earlier registration of it (its node cut
 * off, or its session replaced) is answered to the senders and never
 * sent again, so that it cannot arrive after what is routed to the new
 * place from now on.
 */
void
clead_moved(struct cfwd_link *at, int kind, const char *id)
{
	struct cfwd_link	*l;
	size_t			 n = 0;

	if (id == NULL)
		return;
	TAILQ_FOREACH(l, &links, entry)
		if (l != at)
			n += crelay_moved(l, kind, id);
	if (n > 0)
		log_info("clead_moved: %s registered again on %s: %zu stanzas "
		    "kept for its earlier place answered to their senders",
		    id, at != NULL ? at->addr : "this node", n);
}

/*
 * Leader: tell every follower that one of our own sessions is here (on
 * bind) or gone, so that whoever leads after us can tell its contacts it
 * is unavailable should we die with it.
 */
void
clead_tell(struct xconn *c, int here)
{
	struct cfwd_link	*l;
	struct xnode		*f;
	char			*s;
	size_t			 len;

	if (c->full == NULL || c->remote != NULL)
		return;
	f = clink_frame(here ? "here" : "gone", "jid", c->full);
	s = clink_frame_string(f, &len);
	TAILQ_FOREACH(l, &links, entry)
		clink_write(l, s, len);
	free(s);
}

/* Leader: frame f (freed) to every follower linked. */
void
clead_send_all(struct xnode *f)
{
	struct cfwd_link	*l;
	char			*s;
	size_t			 len;

	s = clink_frame_string(f, &len);
	TAILQ_FOREACH(l, &links, entry)
		if (!l->holder && !l->dead)
			clink_write(l, s, len);
	free(s);
}

/* Whether a follower is linked to us. */
int
clead_linked(void)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		if (!l->holder && !l->dead)
			return (1);
	return (0);
}

/*
 * Leader: stanza n (borrowed), number h of our SM session to, copied to
 * every follower (a holder keeps it for its next link).
 */
void
clead_copy_all(const char *to, uint32_t h, const struct xnode *n)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		crelay_copy(l, to, h, n);
}

/* Leader: a follower that has registered hears of all our sessions. */
static void
clead_tell_all(struct cfwd_link *l)
{
	struct xconn	*c;

	for (c = xconn_first(); c != NULL; c = xconn_next(c)) {
		if (c->kind != XC_CLIENT || c->state != XS_READY ||
		    c->full == NULL || c->closing)
			continue;
		clink_send(l, clink_frame("here", "jid", c->full));
	}
}

/* The leader's line for xmpp cluster status, allocated. */
char *
clead_status(void)
{
	struct cfwd_link	*l;
	char			*s;
	char			 held[40] = "";
	int			 nl = 0, nh = 0, ns = 0, nc = 0;

	TAILQ_FOREACH(l, &links, entry) {
		if (l->holder)
			nh++;
		else
			nl++;
		ns += l->nsess;
		nc += l->ncomp;
	}
	if (nh > 0)
		snprintf(held, sizeof(held), ", %d waiting to link again", nh);
	xasprintf(&s, "leader, %d follower%s linked%s, %d remote "
	    "session%s, %d remote call bridge%s%s", nl,
	    nl == 1 ? "" : "s", held, ns, ns == 1 ? "" : "s", nc,
	    nc == 1 ? "" : "s", csettle_active() ? ", settling" : "");
	return (s);
}
