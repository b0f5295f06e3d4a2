/*
 * Rosters and subscriptions between local accounts (RFC 6121 sections 2
 * and 3): roster get and set with pushes, subscription requests and their
 * answers, which update both rosters when the contact is local. Rosters
 * live in SQLite. A change is stored through the roster hooks
 * (router_roster_put, router_roster_del): on a single node the core
 * writes its database at once; in a cluster the layer above puts the
 * change in the replicated log and every member (this one too) writes
 * it once it is committed. Only then does anyone hear of it: the roster
 * set's result, the pushes, the subscription presence routed on. A change
 * the hook could not store is answered with internal-server-error (wait).
 *
 * Changes wait in one queue, in order of arrival; one runs only when no
 * earlier change touches either of its accounts (the owner, and the
 * contact when local), so each is decided from a database that holds
 * every earlier change of those rosters. An account has at most
 * XMPP_ROSTER_PENDING changes of its own waiting; past that it is told
 * resource-constraint (wait). A change remembers its session by serial
 * and JID (xconn_serial): if the session goes meanwhile the change is
 * still made and the others still hear of it; only its answer is lost.
 * The stanza is held (router_hold) until its change is over, so that a
 * cluster's follower keeps it, and sends it again, until then.
 *
 * Every roster is capped (db.h, DB_ROSTER_*): a roster set past a length
 * or count of one item is not-acceptable, one that would make the roster
 * pass its items or bytes is policy-violation (RFC 6121 2.3.3 leaves the
 * choice to the server), and so is a subscription request that would add
 * an item to a full roster. A roster or account that cannot be read
 * answers internal-server-error (wait).
 */
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define ROSTER_MAX_SESSIONS	64

/* pending_in values: asked us, hidden from the roster / in the roster. */
#define PENDING_HIDDEN		1
#define PENDING_SHOWN		2

/* What a change is. */
#define RJ_SET		1	/* roster set of an item */
#define RJ_REMOVE	2	/* roster set with subscription remove */
#define RJ_SUB		3	/* subscription presence */

/* What a change does to an item (mine, theirs). */
#define RP_NONE		0
#define RP_PUT		1
#define RP_DEL		2

/* Where a subscription presence goes once the change is stored. */
#define RS_NONE		0	/* nowhere: ignored (RFC 6121 3.1.5) */
#define RS_REMOTE	1	/* to the contact's server */
#define RS_AUTO		2	/* answered "subscribed" for the contact */
#define RS_SESSIONS	3	/* to the local contact's sessions */
#define RS_OFFER	4	/* ... and our presence to the contact */
#define RS_UNAV_TO	5	/* ... and the contact's unavailable to us */
#define RS_UNAV_FROM	6	/* ... and our unavailable to the contact */

/* An account with roster changes waiting or running. */
struct roster_acct {
	RB_ENTRY(roster_acct)	 entry;
	char			*name;		/* localpart */
	int			 refs;		/* changes that touch it */
	int			 asked;		/* ... that it asked for */
	unsigned		 mark;		/* roster_run's pass */
};
RB_HEAD(roster_accts, roster_acct);

struct roster_job;

/* A hook call in flight: which item of which change. */
struct roster_wait {
	struct roster_job	*job;
	int			 which;		/* 0 mine, 1 theirs */
};

/* One subscription step, for what follows the store. */
struct roster_step {
	const char		*type;		/* static */
	int			 route;		/* RS_* */
};

/* A roster change, from its arrival until it is answered. */
struct roster_job {
	TAILQ_ENTRY(roster_job)	 entry;
	int			 kind;		/* RJ_* */
	int			 running;
	struct roster_acct	*own;
	struct roster_acct	*con;		/* a local contact, or NULL */
	uint64_t		 serial;	/* the session that asked */
	uint64_t		 hold;		/* its stanza's, router_hold */
	char			*bare;
	char			*resource;
	char			*full;
	char			*to;		/* the contact, bare */
	struct xnode		*n;		/* the stanza (a copy) */
	int			 local;		/* the contact is an account */
	int			 had[2];	/* mine, theirs were stored */
	struct db_roster	 item[2];	/* mine, theirs */
	int			 op[2];		/* RP_* */
	int			 push[2];	/* push the item once stored */
	int			 stored[2];
	struct roster_wait	 wait[2];
	int			 waiting;	/* hook calls not done */
	int			 failed;
	struct roster_step	 steps[2];
	int			 nsteps;
};
TAILQ_HEAD(roster_jobs, roster_job);

static struct roster_accts	roster_accts = RB_INITIALIZER(&roster_accts);
static struct roster_jobs	roster_jobs =
    TAILQ_HEAD_INITIALIZER(roster_jobs);
static unsigned			roster_pass;
static int			roster_running, roster_again;

static int	 roster_acct_cmp(struct roster_acct *, struct roster_acct *);
RB_PROTOTYPE(roster_accts, roster_acct, entry, roster_acct_cmp);
static struct roster_acct *roster_acct_get(const char *);
static void	 roster_acct_put(struct roster_acct *);
static struct xnode *roster_item_node(const struct db_roster *);
static void	 roster_push(const char *, const struct db_roster *, int);
static int	 roster_load(const char *, const char *, struct db_roster *);
static int	 roster_fields(const struct xnode *, struct db_roster *,
		    const char **);
static int	 roster_visible(const struct db_roster *);
static void	 roster_set_sub(struct db_roster *, const char *);
static int	 sub_has(const char *, const char *);
static const char *sub_add(const char *, const char *);
static const char *sub_del(const char *, const char *);
static void	 roster_enqueue(struct xconn *, const struct xnode *, int,
		    const char *, const char *);
static void	 roster_run(void);
static void	 roster_start(struct roster_job *);
static int	 roster_plan(struct roster_job *, struct xconn *);
static void	 roster_plan_drop(struct roster_job *, int, const char *);
static int	 roster_plan_step(struct roster_job *, const char *,
		    struct xconn *);
static void	 roster_store(struct roster_job *);
static void	 roster_stored(void *, const char *);
static void	 roster_done(struct roster_job *);
static void	 roster_route(struct roster_job *, const struct roster_step *);
static void	 roster_finish(struct roster_job *);
static struct xconn *roster_conn(struct roster_job *);
static void	 roster_answer(struct roster_job *, struct xconn *,
		    const char *, const char *);

RB_GENERATE(roster_accts, roster_acct, entry, roster_acct_cmp);

/* Whether subscription state s includes dir ("to" or "from"). */
static int
sub_has(const char *s, const char *dir)
{
	return (strcmp(s, "both") == 0 || strcmp(s, dir) == 0);
}

/* Subscription state s with dir added. */
static const char *
sub_add(const char *s, const char *dir)
{
	if (sub_has(s, dir))
		return (s);
	return (strcmp(s, "none") == 0 ? dir : "both");
}

/* Subscription state s with dir removed. */
static const char *
sub_del(const char *s, const char *dir)
{
	if (!sub_has(s, dir))
		return (s);
	if (strcmp(s, "both") == 0)
		return (strcmp(dir, "to") == 0 ? "from" : "to");
	return ("none");
}

/* An item that only says "they asked us" is not shown (RFC 6121 3.1.3). */
static int
roster_visible(const struct db_roster *r)
{
	return (!(r->pending_in == PENDING_HIDDEN && r->ask == 0 &&
	    strcmp(r->subscription, "none") == 0));
}

/* A roster item as <item/>. */
static struct xnode *
roster_item_node(const struct db_roster *r)
{
	struct xnode	*it;
	char		*groups, *g, *p;

	it = xnode_new("item", NULL);
	xnode_set_attr(it, "jid", r->jid);
	if (r->name != NULL)
		xnode_set_attr(it, "name", r->name);
	xnode_set_attr(it, "subscription", r->subscription);
	if (r->ask)
		xnode_set_attr(it, "ask", "subscribe");
	groups = p = xstrdup(r->groups ? r->groups : "");
	while ((g = strsep(&p, "\n")) != NULL)
		if (*g != '\0')
			xnode_add_text(xnode_add(it, "group", NULL), g,
			    strlen(g));
	free(groups);
	return (it);
}

/* Push an item to every session of owner that asked for the roster. */
static void
roster_push(const char *owner, const struct db_roster *r, int removed)
{
	struct xconn	*s[ROSTER_MAX_SESSIONS];
	struct xnode	*iq, *q, *it;
	char		*bare, id[32];
	static unsigned	 seq;
	int		 i, k;

	xasprintf(&bare, "%s@%s", owner, xmpp_domain());
	k = router_sessions(bare, s, ROSTER_MAX_SESSIONS);
	for (i = 0; i < k; i++) {
		if (!s[i]->roster_wanted)
			continue;
		iq = xnode_new("iq", NULL);
		xnode_set_attr(iq, "type", "set");
		snprintf(id, sizeof(id), "push%u", ++seq);
		xnode_set_attr(iq, "id", id);
		xnode_set_attr(iq, "to", s[i]->full);
		q = xnode_add(iq, "query", NS_ROSTER);
		it = roster_item_node(r);
		if (removed)
			xnode_set_attr(it, "subscription", "remove");
		xnode_append(q, it);
		router_deliver(s[i], iq);
		xnode_free(iq);
	}
	free(bare);
}

/*
 * An item of owner's roster (1), or a fresh one (subscription none, 0);
 * -1 (logged, *r empty) when the database fails.
 */
static int
roster_load(const char *owner, const char *jid, struct db_roster *r)
{
	char	*cause;
	int	 rc;

	if ((rc = db_roster_item(mmpd->db, owner, jid, r, &cause)) == 1)
		return (1);
	memset(r, 0, sizeof(*r));
	if (rc == -1) {
		log_warnx("roster_load: %s: %s: %s", owner, jid, cause);
		free(cause);
		return (-1);
	}
	r->jid = xstrdup(jid);
	r->subscription = xstrdup("none");
	r->groups = xstrdup("");
	return (0);
}

/* Replace an item's subscription with a static state. */
static void
roster_set_sub(struct db_roster *r, const char *sub)
{
	char	*s = xstrdup(sub);

	free(r->subscription);
	r->subscription = s;
}

/* Accounts with changes waiting are ordered by localpart. */
static int
roster_acct_cmp(struct roster_acct *a, struct roster_acct *b)
{
	return (strcmp(a->name, b->name));
}

/* The record of an account (made if need be); the caller takes a ref. */
static struct roster_acct *
roster_acct_get(const char *name)
{
	struct roster_acct	 key, *a;

	key.name = (char *)(uintptr_t)name;
	if ((a = RB_FIND(roster_accts, &roster_accts, &key)) != NULL)
		return (a);
	a = xcalloc(1, sizeof(*a));
	a->name = xstrdup(name);
	RB_INSERT(roster_accts, &roster_accts, a);
	return (a);
}

/* Drop a ref of an account's record; the last one frees it. */
static void
roster_acct_put(struct roster_acct *a)
{
	if (a == NULL || --a->refs > 0)
		return;
	RB_REMOVE(roster_accts, &roster_accts, a);
	free(a->name);
	free(a);
}

/*
 * Queue a change of kind asked by session c with stanza n (copied), about
 * contact to (bare); contact is the contact's localpart when its domain
 * is ours, else NULL. Past XMPP_ROSTER_PENDING of the account's own,
 * resource-constraint.
 */
static void
roster_enqueue(struct xconn *c, const struct xnode *n, int kind,
    const char *to, const char *contact)
{
	struct roster_job	*j;
	struct roster_acct	*own;

	own = roster_acct_get(c->local);
	if (own->asked >= XMPP_ROSTER_PENDING) {
		log_debug("roster_enqueue: %s: %d roster changes wait already",
		    c->bare, own->asked);
		own->refs++;
		roster_acct_put(own);
		router_error(c, n, "wait", "resource-constraint");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = kind;
	j->own = own;
	own->refs++;
	own->asked++;
	if (contact != NULL && strcmp(contact, c->local) != 0) {
		j->con = roster_acct_get(contact);
		j->con->refs++;
	}
	j->serial = xconn_serial(c);
	j->bare = xstrdup(c->bare);
	j->resource = xstrdup(c->resource);
	j->full = xstrdup(c->full);
	j->to = xstrdup(to);
	j->n = xnode_copy(n);
	j->hold = router_hold(c);
	TAILQ_INSERT_TAIL(&roster_jobs, j, entry);
	roster_run();
}

/*
 * Start every change that may run: one that no earlier change (waiting or
 * running) shares an account with. A change may end while it starts (a
 * single node, a refusal): then look again.
 */
static void
roster_run(void)
{
	struct roster_job	*j, *next;
	int			 blocked;

	if (roster_running) {
		roster_again = 1;
		return;
	}
	roster_running = 1;
	do {
		roster_again = 0;
		roster_pass++;
		TAILQ_FOREACH_SAFE(j, &roster_jobs, entry, next) {
			blocked = j->own->mark == roster_pass ||
			    (j->con != NULL && j->con->mark == roster_pass);
			j->own->mark = roster_pass;
			if (j->con != NULL)
				j->con->mark = roster_pass;
			/* It may end (and go) at once: next is kept. */
			if (!j->running && !blocked)
				roster_start(j);
		}
	} while (roster_again);
	roster_running = 0;
}

/* The session that asked for a change, if it is still there. */
static struct xconn *
roster_conn(struct roster_job *j)
{
	struct xconn	*c;

	if ((c = router_resource(j->bare, j->resource)) == NULL ||
	    c->serial != j->serial || c->closing || c->dead)
		return (NULL);
	return (c);
}

/* Answer a change's stanza with an error, if its session is there. */
static void
roster_answer(struct roster_job *j, struct xconn *c, const char *type,
    const char *cond)
{
	if (c != NULL)
		router_error(c, j->n, type, cond);
}

/* Decide a change from the database, then store what it changes. */
static void
roster_start(struct roster_job *j)
{
	j->running = 1;
	if (roster_plan(j, roster_conn(j)) == -1) {
		roster_finish(j);
		return;
	}
	roster_store(j);
}

/*
 * What a change does: the items it stores (j->item, j->op, j->push) and
 * the subscription steps to route after. -1 if refused (answered).
 */
static int
roster_plan(struct roster_job *j, struct xconn *c)
{
	struct db_roster	*mine = &j->item[0];
	struct xnode		*it;
	const char		*cond;
	char			*cause;
	int			 unsub, unsubd, full;

	if (j->con != NULL &&
	    (j->local = db_user_exists(mmpd->db, j->con->name, &cause)) == -1) {
		log_warnx("roster_plan: %s: %s", j->con->name, cause);
		free(cause);
		roster_answer(j, c, "wait", "internal-server-error");
		return (-1);
	}
	if (j->kind != RJ_SET) {
		j->had[0] = roster_load(j->own->name, j->to, mine);
		if (j->local && j->had[0] != -1)
			j->had[1] = roster_load(j->con->name, j->bare,
			    &j->item[1]);
		if (j->had[0] == -1 || j->had[1] == -1) {
			roster_answer(j, c, "wait", "internal-server-error");
			return (-1);
		}
	}
	if (j->kind == RJ_SUB)
		return (roster_plan_step(j, xnode_attr(j->n, "type"), c));
	if (j->kind == RJ_REMOVE) {
		/* RFC 6121 2.5.3: removing what is not there is an error. */
		if (!j->had[0]) {
			roster_answer(j, c, "cancel", "item-not-found");
			return (-1);
		}
		unsub = sub_has(mine->subscription, "to") || mine->ask;
		unsubd = sub_has(mine->subscription, "from") ||
		    mine->pending_in;
		/* RFC 6121 2.5.2: unsubscribe and unsubscribed on its behalf. */
		if (unsub)
			roster_plan_step(j, "unsubscribe", c);
		if (unsubd)
			roster_plan_step(j, "unsubscribed", c);
		j->op[0] = RP_DEL;
		j->push[0] = 1;
		return (0);
	}
	if (roster_load(j->own->name, j->to, mine) == -1) {
		roster_answer(j, c, "wait", "internal-server-error");
		return (-1);
	}
	it = xnode_first(xnode_first(j->n));
	if (roster_fields(it, mine, &cond) == -1) {
		roster_answer(j, c, "modify", cond);
		return (-1);
	}
	if ((full = db_roster_fits(mmpd->db, j->own->name, mine,
	    &cause)) != 0) {
		if (full == -1)
			log_warnx("roster_plan: %s: %s: %s", j->bare, j->to,
			    cause);
		else
			log_debug("roster_plan: %s: %s: %s", j->bare, j->to,
			    cause);
		free(cause);
		if (full == -1)
			roster_answer(j, c, "wait", "internal-server-error");
		else
			roster_answer(j, c, "cancel", "policy-violation");
		return (-1);
	}
	if (mine->pending_in == PENDING_HIDDEN)
		mine->pending_in = PENDING_SHOWN;
	j->op[0] = RP_PUT;
	j->push[0] = 1;
	return (0);
}

/*
 * Item k of a job (0 ours, 1 the local contact's) loses the "to" or
 * "from" half of its subscription and the request pending on that side
 * (ask, pending_in); it is stored and pushed.
 */
static void
roster_plan_drop(struct roster_job *j, int k, const char *half)
{
	struct db_roster	*r = &j->item[k];

	roster_set_sub(r, sub_del(r->subscription, half));
	if (strcmp(half, "to") == 0)
		r->ask = 0;
	else
		r->pending_in = 0;
	j->op[k] = RP_PUT;
	j->push[k] = 1;
}

/*
 * One subscription step of type from our account to j->to (RFC 6121
 * section 3) on the items as this change has them so far (each step
 * sees what the one before it made). A subscription request that would
 * add an item to a full roster (ours, or a local contact's) is refused
 * with policy-violation, one whose roster cannot be read with
 * internal-server-error; an unsubscribe or unsubscribed about a contact
 * that is not in a roster adds nothing to it. -1 if refused (answered).
 */
static int
roster_plan_step(struct roster_job *j, const char *type, struct xconn *c)
{
	struct db_roster	*mine = &j->item[0], *theirs = &j->item[1];
	struct roster_step	*st = &j->steps[j->nsteps++];
	char			*cause = NULL;
	int			 had_mine = j->had[0], had_theirs = j->had[1];
	int			 full = 0;

	st->route = RS_REMOTE;
	if (strcmp(type, "subscribe") == 0) {
		st->type = "subscribe";
		if (!had_mine)
			full = db_roster_fits(mmpd->db, j->own->name, mine,
			    &cause);
		if (full == 0 && j->local && !had_theirs)
			full = db_roster_fits(mmpd->db, j->con->name, theirs,
			    &cause);
		if (full != 0) {
			if (full == -1)
				log_warnx("roster_plan_step: %s to %s: %s",
				    j->bare, j->to, cause);
			else
				log_debug("roster_plan_step: %s to %s refused: "
				    "%s", j->bare, j->to, cause);
			free(cause);
			if (full == -1)
				roster_answer(j, c, "wait",
				    "internal-server-error");
			else
				roster_answer(j, c, "cancel",
				    "policy-violation");
			return (-1);
		}
		if (!sub_has(mine->subscription, "to") && !mine->ask) {
			mine->ask = 1;
			j->op[0] = RP_PUT;
			j->push[0] = 1;
		}
		if (j->local && sub_has(theirs->subscription, "from"))
			st->route = RS_AUTO;	/* already approved */
		else if (j->local) {
			if (!theirs->pending_in) {
				theirs->pending_in = PENDING_HIDDEN;
				j->op[1] = RP_PUT;
			}
			st->route = RS_SESSIONS;
		}
	} else if (strcmp(type, "subscribed") == 0) {
		st->type = "subscribed";
		/* RFC 6121 3.1.5: approving what nobody asked is ignored. */
		if (mine->pending_in == 0) {
			st->route = RS_NONE;
			return (0);
		}
		roster_set_sub(mine, sub_add(mine->subscription, "from"));
		mine->pending_in = 0;
		j->op[0] = RP_PUT;
		j->push[0] = 1;
		if (j->local) {
			theirs->ask = 0;
			roster_set_sub(theirs, sub_add(theirs->subscription,
			    "to"));
			j->op[1] = RP_PUT;
			j->push[1] = 1;
			st->route = RS_OFFER;
		}
	} else if (strcmp(type, "unsubscribe") == 0) {
		st->type = "unsubscribe";
		if (had_mine)
			roster_plan_drop(j, 0, "to");
		if (j->local) {
			if (had_theirs)
				roster_plan_drop(j, 1, "from");
			st->route = RS_UNAV_TO;
		}
	} else {
		st->type = "unsubscribed";
		if (had_mine)
			roster_plan_drop(j, 0, "from");
		if (j->local) {
			if (had_theirs)
				roster_plan_drop(j, 1, "to");
			st->route = RS_UNAV_FROM;
		}
	}
	return (0);
}

/*
 * Store the items a change makes through the hooks; what no hook takes
 * is written here at once. Done at once if nothing waits.
 */
static void
roster_store(struct roster_job *j)
{
	const char	*owner;
	char		*cause;
	int		 i, rc;

	for (i = 0; i < 2; i++) {
		if (j->op[i] == RP_NONE)
			continue;
		owner = i == 0 ? j->own->name : j->con->name;
		j->wait[i].job = j;
		j->wait[i].which = i;
		if (j->op[i] == RP_PUT)
			rc = router_roster_put(owner, &j->item[i],
			    roster_stored, &j->wait[i]);
		else
			rc = router_roster_del(owner, j->item[i].jid,
			    roster_stored, &j->wait[i]);
		if (rc == 1) {
			j->waiting++;
			continue;
		}
		if (rc == -1) {
			j->failed = 1;
			continue;
		}
		cause = NULL;
		if ((j->op[i] == RP_PUT ? db_roster_put(mmpd->db, owner,
		    &j->item[i], &cause) : db_roster_del(mmpd->db, owner,
		    j->item[i].jid, &cause)) == -1) {
			log_warnx("roster_store: %s: %s: %s", owner,
			    j->item[i].jid, cause);
			free(cause);
			j->failed = 1;
		} else
			j->stored[i] = 1;
	}
	if (j->waiting == 0)
		roster_done(j);
}

/* A hook stored an item of a change (err NULL) or could not. */
static void
roster_stored(void *arg, const char *err)
{
	struct roster_wait	*w = arg;
	struct roster_job	*j = w->job;

	if (err != NULL) {
		log_warnx("roster_stored: %s: %s: %s", w->which == 0 ?
		    j->own->name : j->con->name, j->item[w->which].jid, err);
		j->failed = 1;
	} else
		j->stored[w->which] = 1;
	if (--j->waiting == 0)
		roster_done(j);
}

/*
 * A change is stored (or failed): push what was stored, then route the
 * subscription presence and answer, or answer the failure.
 */
static void
roster_done(struct roster_job *j)
{
	struct xconn	*c = roster_conn(j);
	struct xnode	*res;
	int		 i;

	for (i = 0; i < 2; i++)
		if (j->stored[i] && j->push[i])
			roster_push(i == 0 ? j->own->name : j->con->name,
			    &j->item[i], j->op[i] == RP_DEL);
	if (j->failed) {
		roster_answer(j, c, "wait", "internal-server-error");
		roster_finish(j);
		return;
	}
	for (i = 0; i < j->nsteps; i++)
		roster_route(j, &j->steps[i]);
	if (j->kind != RJ_SUB && c != NULL) {
		res = xnode_new("iq", NULL);
		xnode_set_attr(res, "type", "result");
		xnode_set_attr(res, "id", xnode_attr(j->n, "id"));
		xnode_set_attr(res, "to", j->full);
		router_deliver(c, res);
		xnode_free(res);
	}
	roster_finish(j);
}

/* Route a subscription step's presence once its change is stored. */
static void
roster_route(struct roster_job *j, const struct roster_step *st)
{
	struct xnode	*p, *auto_reply;

	if (st->route == RS_NONE)
		return;
	if (j->kind == RJ_SUB)
		p = xnode_copy(j->n);
	else {
		p = xnode_new("presence", NULL);
		xnode_set_attr(p, "type", st->type);
	}
	xnode_set_attr(p, "from", j->bare);
	xnode_set_attr(p, "to", j->to);
	switch (st->route) {
	case RS_REMOTE:
		presence_send_to(p, j->to, NULL);
		break;
	case RS_AUTO:
		/* Already approved: answer for the contact. */
		auto_reply = xnode_new("presence", NULL);
		xnode_set_attr(auto_reply, "type", "subscribed");
		presence_send_to(auto_reply, j->bare, j->to);
		xnode_free(auto_reply);
		break;
	default:
		presence_to_sessions(p, j->to, 1);
		if (st->route == RS_OFFER)
			presence_offer(j->full, j->bare, j->to);
		else if (st->route == RS_UNAV_TO)
			presence_unavailable_from(j->to, j->bare);
		else if (st->route == RS_UNAV_FROM)
			presence_unavailable_from(j->bare, j->to);
		break;
	}
	xnode_free(p);
}

/* A change is over: out of the queue; the next ones may start. */
static void
roster_finish(struct roster_job *j)
{
	uint64_t	 hold = j->hold;

	TAILQ_REMOVE(&roster_jobs, j, entry);
	j->own->asked--;
	roster_acct_put(j->own);
	roster_acct_put(j->con);
	db_roster_clear(&j->item[0]);
	db_roster_clear(&j->item[1]);
	xnode_free(j->n);
	free(j->bare);
	free(j->resource);
	free(j->full);
	free(j->to);
	free(j);
	router_release(hold);
	roster_run();
}

/* At exit: forget every change; no hook may call back any more. */
void
roster_free(void)
{
	struct roster_job	*j;

	while ((j = TAILQ_FIRST(&roster_jobs)) != NULL) {
		TAILQ_REMOVE(&roster_jobs, j, entry);
		j->own->asked--;
		roster_acct_put(j->own);
		roster_acct_put(j->con);
		db_roster_clear(&j->item[0]);
		db_roster_clear(&j->item[1]);
		xnode_free(j->n);
		free(j->bare);
		free(j->resource);
		free(j->full);
		free(j->to);
		free(j);
	}
}

/*
 * Subscription presence from local account c->local to bare JID to
 * (RFC 6121 section 3): queued as a change of both rosters when the
 * contact is local, of ours otherwise.
 */
void
roster_subscription(struct xconn *c, struct xnode *n, const char *type,
    const char *to)
{
	struct jid	 j;

	(void)type;
	if (jid_parse(to, &j) == -1 || strcmp(to, c->bare) == 0) {
		jid_clear(&j);
		return;
	}
	roster_enqueue(c, n, RJ_SUB, to, router_is_local(j.domain) ?
	    j.local : NULL);
	jid_clear(&j);
}

/*
 * Fill r's name and groups from a roster set's <item/>, checked (RFC 6121
 * 2.3.3) before anything is copied: -1 with *cond "not-acceptable" for a
 * name or group past its cap, an empty group or one with a control
 * character, more than DB_ROSTER_MAX_GROUPS groups; "bad-request" for a
 * group named twice.
 */
static int
roster_fields(const struct xnode *it, struct db_roster *r, const char **cond)
{
	struct xnode	*g;
	const char	*name = xnode_attr(it, "name");
	char		*text[DB_ROSTER_MAX_GROUPS], *groups, *cause, *t;
	size_t		 len, off;
	int		 n = 0, i, k, rc = -1;

	*cond = "not-acceptable";
	if (name != NULL && strlen(name) > DB_ROSTER_MAX_NAME)
		return (-1);
	for (g = xnode_first(it); g != NULL; g = xnode_next(g))
		if (strcmp(xnode_name(g), "group") == 0 &&
		    ++n > DB_ROSTER_MAX_GROUPS)
			return (-1);
	n = 0;
	len = 1;
	for (g = xnode_first(it); g != NULL; g = xnode_next(g)) {
		if (strcmp(xnode_name(g), "group") != 0)
			continue;
		t = text[n++] = xnode_text(g);
		if (*t == '\0' || strlen(t) > DB_ROSTER_MAX_GROUP)
			goto out;
		for (i = 0; t[i] != '\0'; i++)
			if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
				goto out;
		for (k = 0; k < n - 1; k++) {
			if (strcmp(text[k], t) == 0) {
				*cond = "bad-request";
				goto out;
			}
		}
		len += strlen(t) + 1;
	}
	groups = xmalloc(len);
	groups[0] = '\0';
	for (k = 0, off = 0; k < n; k++)
		off += snprintf(groups + off, len - off, "%s%s",
		    k > 0 ? "\n" : "", text[k]);
	free(r->name);
	r->name = name != NULL ? xstrdup(name) : NULL;
	free(r->groups);
	r->groups = groups;
	if (db_roster_check(r, &cause) == -1) {
		log_debug("roster_fields: %s", cause);
		free(cause);
		goto out;
	}
	rc = 0;
out:
	for (k = 0; k < n; k++)
		free(text[k]);
	return (rc);
}

/* jabber:iq:roster get and set (RFC 6121 section 2). */
void
roster_iq(struct xconn *c, struct xnode *n)
{
	struct db_roster	*items;
	struct xnode		*q, *res, *rq, *it;
	const char		*type = xnode_attr(n, "type"), *sub;
	char			*jid, *cause;
	struct jid		 j;
	size_t			 k, i;

	q = xnode_first(n);
	if (strcmp(type, "get") == 0) {
		/* At most DB_ROSTER_MAX_BYTES of roster, read once. */
		c->roster_wanted = 1;
		res = xnode_new("iq", NULL);
		xnode_set_attr(res, "type", "result");
		xnode_set_attr(res, "id", xnode_attr(n, "id"));
		xnode_set_attr(res, "to", c->full);
		rq = xnode_add(res, "query", NS_ROSTER);
		if (db_roster_get(mmpd->db, c->local, &items, &k,
		    &cause) == -1) {
			log_warnx("roster_iq: %s: %s", c->local, cause);
			free(cause);
			xnode_free(res);
			router_error(c, n, "wait", "internal-server-error");
			return;
		}
		for (i = 0; i < k; i++)
			if (roster_visible(&items[i]))
				xnode_append(rq, roster_item_node(&items[i]));
		db_roster_free(items, k);
		router_deliver(c, res);
		xnode_free(res);
		return;
	}
	/* set: exactly one item (RFC 6121 2.3.3). */
	if ((it = xnode_first(q)) == NULL || xnode_next(it) != NULL ||
	    strcmp(xnode_name(it), "item") != 0 ||
	    xnode_attr(it, "jid") == NULL ||
	    jid_parse(xnode_attr(it, "jid"), &j) == -1) {
		router_error(c, n, "modify", "bad-request");
		return;
	}
	jid = jid_bare(&j);
	if (strcmp(jid, c->bare) == 0) {
		jid_clear(&j);
		free(jid);
		router_error(c, n, "cancel", "not-allowed");
		return;
	}
	sub = xnode_attr(it, "subscription");
	if (sub != NULL && strcmp(sub, "remove") == 0)
		roster_enqueue(c, n, RJ_REMOVE, jid,
		    router_is_local(j.domain) ? j.local : NULL);
	else
		roster_enqueue(c, n, RJ_SET, jid, NULL);
	jid_clear(&j);
	free(jid);
}
