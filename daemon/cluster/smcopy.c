/*
 * Stream management across the cluster: what survives a change of
 * leader (smlead.c and smup.c do the rest).
 *
 * The leader's own SM sessions, and the sessions that hibernate at the
 * leader (their node died), have a second copy on every follower: each
 * follower's table (smtab.c) holds an entry per such session (not
 * local, no connection) with its counters and the stanzas its client
 * has not acknowledged. Every stanza the session is sent goes to each
 * follower as a numbered <d m='h'> frame (relay.c, crelay_copy), kept
 * until acknowledged like any <d>, so the leader's <ack> to the node of
 * the stanza's sender waits until every follower has the copy. A
 * follower that becomes leader (the leader died, or handed over: it
 * shut down, or it stepped down and stays) turns its copies into
 * hibernating sessions (smlead.c), registers their origins (a sender's
 * node replays what the old leader did not acknowledge: dropped as
 * seen), and keeps them out of the sessions that died with the leader.
 *
 * A follower keeps the same for its own SM sessions (from the core's
 * hooks), and registers them with a new leader with their counters and
 * unacknowledged stanzas, which seed its mirror.
 *
 * leader to follower:
 *   <mon jid id in k acked [hib='ms']>[<p>presence</p>]<q>stanzas</q></mon>
 *			a session of ours: acked+1 .. k (sent after a
 *			follower registers, and when the presence changes);
 *			hib: it hibernates here, for ms already
 *   <d n to m='h'>stanza</d>	stanza h of our session to
 *   <ma jid h in/>	its client acknowledged h
 *   <moff jid/>	the session ended or moved
 * follower to leader:
 *   <bind jid ... sm='id' in out acked seq>[presence]<q>stanzas</q></bind>
 *			an SM session registers again (seq: our last <s>
 *			counted in in)
 */
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/net.h"
#include "log.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"
#include "cluster/smtab.h"

static struct xnode *csm_copy_mon(struct csm_entry *);
static void	 csm_copy_fill(struct csm_entry *, const struct xnode *);

/* The <mon> frame of our SM session e: its state and stanzas. */
static struct xnode *
csm_copy_mon(struct csm_entry *e)
{
	struct csm_stanza	*s;
	struct xconn		*c;
	struct xnode		*f, *w;
	int64_t			 age;

	f = clink_frame("mon", "jid", e->full);
	xnode_set_attr(f, "id", e->id);
	clink_set_num(f, "in", e->in);
	clink_set_num(f, "k", e->k);
	clink_set_num(f, "acked", e->acked);
	if (e->hib_ms != 0) {
		age = cnet_now_ms() - e->hib_ms;
		clink_set_num(f, "hib", age > 0 ? (uint64_t)age : 0);
	}
	c = e->local ? clink_find(NULL, XC_CLIENT, e->full) : e->c;
	if (c != NULL && c->available && c->presence != NULL) {
		w = xnode_add(f, "p", NULL);
		clink_add_stanza(w, c->presence);
	}
	w = xnode_add(f, "q", NULL);
	TAILQ_FOREACH(s, &e->mirror, entry)
		clink_add_stanza(w, s->st);
	return (f);
}

/*
 * Leader: our session e enabled SM (or its presence changed), or a
 * session hibernates here: tell all.
 */
void
csm_copy_on(struct csm_entry *e)
{
	clead_send_all(csm_copy_mon(e));
}

/*
 * Leader: a follower registered: the state of each of our SM sessions
 * and of each that hibernates here.
 */
void
csm_copy_snapshot(struct cfwd_link *l)
{
	struct csm_entry	*e;

	for (e = csmtab_first(); e != NULL; e = csmtab_next(e))
		if (e->local || e->hib_ms != 0)
			clink_send(l, csm_copy_mon(e));
}

/* Leader: the client of our session e acknowledged its h. */
void
csm_copy_ack(struct csm_entry *e)
{
	struct xnode	*f;

	f = clink_frame("ma", "jid", e->full);
	clink_set_num(f, "h", e->acked);
	clink_set_num(f, "in", e->in);
	clead_send_all(f);
}

/* Leader: our session full (or one hibernating) ended or moved: the
 * copies go. */
void
csm_copy_off(const char *full)
{
	clead_send_all(clink_frame("moff", "jid", full));
}

/* Fill copy entry e with the stanzas of <mon>'s <q> and its presence. */
static void
csm_copy_fill(struct csm_entry *e, const struct xnode *f)
{
	struct xnode	*w, *k;

	for (w = xnode_first(f); w != NULL; w = xnode_next(w)) {
		for (k = xnode_first(w); k != NULL; k = xnode_next(k)) {
			router_strip(k);
			if (strcmp(xnode_name(w), "p") == 0) {
				xnode_free(e->presence);
				e->presence = xnode_copy(k);
			} else if (strcmp(xnode_name(w), "q") == 0 &&
			    csmtab_push(e, k, 0) == -1)
				log_warnx("csm_copy_fill: %s: no room", e->full);
		}
	}
}

/*
 * Follower: a frame about the leader's SM sessions (mon, ma, moff), from
 * leader lid; 1 if n was one (the caller frees it).
 */
int
csm_copy_frame(uint64_t lid, struct xnode *n)
{
	const char		*name = xnode_name(n);
	const char		*jid = xnode_attr(n, "jid"), *id;
	struct csm_entry	*e;
	uint64_t		 in, k, acked, h, hib;

	if (strcmp(name, "mon") != 0 && strcmp(name, "ma") != 0 &&
	    strcmp(name, "moff") != 0)
		return (0);
	if (jid == NULL || strchr(jid, '/') == NULL)
		return (1);
	e = csmtab_by_full(jid);
	if (e != NULL && e->local)
		return (1);		/* ours: not the leader's */
	if (strcmp(name, "moff") == 0) {
		csmtab_del(e);
		return (1);
	}
	if (strcmp(name, "ma") == 0) {
		if (e != NULL && clink_num(xnode_attr(n, "h"), &h) == 0 &&
		    clink_num(xnode_attr(n, "in"), &in) == 0) {
			csmtab_ack(e, (uint32_t)h);
			e->in = (uint32_t)in;
		}
		return (1);
	}
	if ((id = xnode_attr(n, "id")) == NULL ||
	    clink_num(xnode_attr(n, "in"), &in) == -1 ||
	    clink_num(xnode_attr(n, "k"), &k) == -1 ||
	    clink_num(xnode_attr(n, "acked"), &acked) == -1)
		return (1);
	e = csmtab_add(id, jid, (uint32_t)in, (uint32_t)acked);
	e->owner = lid;
	if (clink_num(xnode_attr(n, "hib"), &hib) == 0)
		e->copy_hib_ms = cnet_now_ms() - (int64_t)hib;
	xnode_set_ns(n, NULL);
	csm_copy_fill(e, n);
	if (e->k != (uint32_t)k)
		log_warnx("csm_copy_frame: %s: %u stanzas copied, the leader "
		    "has %llu", jid, e->k, (unsigned long long)k);
	return (1);
}

/*
 * Follower: <d m='h'> frame n for the leader's SM session to: keep
 * stanza h of it (the next one; one we have is sent again), and note
 * its origin as delivered to to, so that if we lead next the replay of
 * its sender's node is dropped.
 */
void
csm_copy_d(const char *to, struct xnode *n)
{
	struct csm_entry	*e;
	struct cfwd_origin	 o;
	struct xnode		*st;
	uint64_t		 h;

	if ((e = csmtab_by_full(to)) == NULL || e->local ||
	    clink_num(xnode_attr(n, "m"), &h) == -1 ||
	    (st = xnode_first(n)) == NULL)
		return;
	memset(&o, 0, sizeof(o));
	if (clink_num(xnode_attr(n, "oe"), &o.epoch) == 0 &&
	    clink_num(xnode_attr(n, "os"), &o.seq) == 0 &&
	    clink_num(xnode_attr(n, "op"), &o.pass) == 0)
		(void)clink_origin_new(&o, to);
	if ((uint32_t)h != (uint32_t)(e->k + 1))
		return;
	xnode_set_ns(n, NULL);
	router_strip(st);
	if (csmtab_push(e, st, 0) == -1)
		log_warnx("csm_copy_d: %s: no room for stanza %llu", to,
		    (unsigned long long)h);
}

/* Follower: a new link to a leader: the copies of the last one go. */
void
csm_copy_clear(void)
{
	struct csm_entry	*e, *next;

	for (e = csmtab_first(); e != NULL; e = next) {
		next = csmtab_next(e);
		if (!e->local && e->c == NULL)
			csmtab_del(e);
	}
}

/*
 * We lead now, after the leader we followed died, shut down or stepped
 * down: the SM sessions we have copies of (its own, and those that
 * hibernated there) hibernate here (smlead.c), for what is left of
 * their time, and are not among the sessions that died with it
 * (orphans). One whose node is alive registers it again (csm_seed).
 */
void
csm_promote(struct cfwd_jids *orphans)
{
	struct csm_entry	*e, *next;
	struct cfwd_jid		*j, *jn;
	struct xconn		*c;

	for (e = csmtab_first(); e != NULL; e = next) {
		next = csmtab_next(e);
		if (e->local || e->c != NULL)
			continue;
		for (j = TAILQ_FIRST(orphans); j != NULL; j = jn) {
			jn = TAILQ_NEXT(j, entry);
			if (strcmp(j->jid, e->full) != 0)
				continue;
			TAILQ_REMOVE(orphans, j, entry);
			free(j->jid);
			free(j);
		}
		if ((c = cpseudo_hib(e->full, e->presence)) == NULL) {
			csmtab_del(e);
			continue;
		}
		e->c = c;
		e->owner = 0;
		e->adopted = 1;
		e->adopt_k = e->k;
		csm_hib_start(e);
	}
}

/*
 * Leader: link l's node registers (<bind> n) session hc->full, which we
 * adopted from its copy and which hibernates here (pseudo hc): its node,
 * the leader before us, is alive after all (it was paused, or stepped
 * down). hc goes; what we numbered for the session since we adopted it
 * (its node never got that) moves onto q (empty, initialised; the
 * caller's, csm_resend), to be sent to its new pseudo once seeded.
 */
void
csm_readopt(struct xconn *hc, struct xnode *n, struct csm_stanzas *q)
{
	struct csm_entry	*e;
	struct csm_stanza	*s, *cp;
	const char		*id = xnode_attr(n, "sm");

	if ((e = csmtab_by_full(hc->full)) != NULL && e->c == hc &&
	    e->adopted && id != NULL && strcmp(e->id, id) == 0) {
		TAILQ_FOREACH(s, &e->mirror, entry) {
			if ((uint32_t)(s->h - e->adopt_k) == 0 ||
			    (uint32_t)(s->h - e->adopt_k) >
			    (uint32_t)(e->k - e->adopt_k))
				continue;
			cp = xcalloc(1, sizeof(*cp));
			cp->h = s->h;
			cp->st = xnode_copy(s->st);
			TAILQ_INSERT_TAIL(q, cp, entry);
		}
	}
	cpseudo_drop(hc, 0);
}

/*
 * Leader: send SM session c (a pseudo just registered; NULL: none) the
 * stanzas of q (csm_readopt), numbered after what its node counts; q is
 * emptied.
 */
void
csm_resend(struct xconn *c, struct csm_stanzas *q)
{
	struct csm_stanza	*s;
	size_t			 n = 0;

	while ((s = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, s, entry);
		if (c != NULL && !c->closing)
			cfwd_send(c, s->st);
		xnode_free(s->st);
		free(s);
		n++;
	}
	if (n > 0 && c != NULL)
		log_info("csm_resend: %s: %zu stanzas sent to it while it "
		    "hibernated here", c->full, n);
}

/*
 * Follower: <bind> frame f of our session c: if it is an SM session,
 * its counters and unacknowledged stanzas, which seed a new leader's
 * mirror; seq: our last <s>, which its inbound count includes.
 */
void
csm_bind_attrs(struct xnode *f, struct xconn *c, uint64_t seq)
{
	struct csm_entry	*e;
	struct csm_stanza	*s;
	struct xnode		*w;

	if (c->full == NULL || (e = csmtab_by_full(c->full)) == NULL ||
	    !e->local)
		return;
	xnode_set_attr(f, "sm", e->id);
	clink_set_num(f, "in", e->in);
	clink_set_num(f, "out", e->k);
	clink_set_num(f, "acked", e->acked);
	clink_set_num(f, "seq", seq);
	w = xnode_add(f, "q", NULL);
	TAILQ_FOREACH(s, &e->mirror, entry)
		clink_add_stanza(w, s->st);
}

/*
 * Leader: <bind> n registered pseudo c of link l: an SM session we do
 * not know (we are new, or it enabled while unlinked) is seeded from
 * it; one we know keeps our counters (ours are newer).
 */
void
csm_seed(struct cfwd_link *l, struct xconn *c, struct xnode *n)
{
	struct csm_entry	*e;
	const char		*id = xnode_attr(n, "sm");
	struct xnode		*w, *k;
	uint64_t		 in, out, acked, seq;

	if (id == NULL || c->full == NULL)
		return;
	if ((e = csmtab_by_full(c->full)) != NULL && e->c == c &&
	    strcmp(e->id, id) == 0)
		return;
	if (clink_num(xnode_attr(n, "in"), &in) == -1 ||
	    clink_num(xnode_attr(n, "out"), &out) == -1 ||
	    clink_num(xnode_attr(n, "acked"), &acked) == -1 ||
	    clink_num(xnode_attr(n, "seq"), &seq) == -1)
		return;
	e = csmtab_add(id, c->full, (uint32_t)in, (uint32_t)acked);
	e->c = c;
	e->owner = l->id;
	e->in_seq = seq;
	xnode_set_ns(n, NULL);
	for (w = xnode_first(n); w != NULL; w = xnode_next(w)) {
		if (strcmp(xnode_name(w), "q") != 0)
			continue;
		for (k = xnode_first(w); k != NULL; k = xnode_next(k)) {
			router_strip(k);
			if (csmtab_push(e, k, 0) == -1)
				log_warnx("csm_seed: %s: no room", c->full);
		}
	}
	if (e->k != (uint32_t)out)
		log_warnx("csm_seed: %s: %u stanzas, its node sent %llu",
		    c->full, e->k, (unsigned long long)out);
	log_info("csm_seed: %s on %s: SM session registered, %zu stanzas "
	    "unacknowledged", c->full, l->addr, e->nmirror);
}
