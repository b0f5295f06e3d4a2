/*
 * Rosters and subscriptions between local accounts (RFC 6121 sections 2
 * and 3): roster get and set with pushes, subscription requests and their
 * answers, which update both rosters when the contact is local. Rosters
 * live in SQLite; in a cluster, where the leader routes every client's
 * stanzas, the leader writes its database and answers from it at once,
 * and the other members get each change through the replicated log: the
 * roster hooks (router_roster_put, router_roster_del) tell the layer above.
 *
 * Every roster is capped (db.h, DB_ROSTER_*): a roster set past a length
 * or count of one item is not-acceptable, one that would make the roster
 * pass its items or bytes is policy-violation (RFC 6121 2.3.3 leaves the
 * choice to the server), and so is a subscription request that would add
 * an item to a full roster.
 */
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

static struct xnode *roster_item_node(const struct db_roster *);
static void	 roster_push(const char *, const struct db_roster *, int);
static int	 roster_load(const char *, const char *, struct db_roster *);
static int	 roster_save(const char *, struct db_roster *);
static int	 roster_fields(const struct xnode *, struct db_roster *,
		    const char **);
static int	 roster_visible(const struct db_roster *);
static void	 roster_set_sub(struct db_roster *, const char *);
static void	 roster_unsub(struct xconn *, const char *, const char *);
static int	 sub_has(const char *, const char *);
static const char *sub_add(const char *, const char *);
static const char *sub_del(const char *, const char *);

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

/*
 * Store an item, and tell the layer above (in a cluster, to replicate
 * it); -1 (logged) if the database refused it, a full roster for one.
 */
static int
roster_save(const char *owner, struct db_roster *r)
{
	char	*cause;

	if (db_roster_put(mmpd->db, owner, r, &cause) == -1) {
		log_warnx("roster_save: %s: %s: %s", owner, r->jid, cause);
		free(cause);
		return (-1);
	}
	router_roster_put(owner, r);
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

/*
 * Subscription presence from local account c->local to bare JID to
 * (RFC 6121 section 3), updating both rosters when the contact is local.
 * A subscription request that would add an item to a full roster (the
 * sender's, or a local contact's) is refused with policy-violation; an
 * unsubscribe or unsubscribed about a contact that is not in a roster
 * adds nothing to it. A roster or account that cannot be read answers
 * internal-server-error.
 */
void
roster_subscription(struct xconn *c, struct xnode *n, const char *type,
    const char *to)
{
	struct db_roster	 mine, theirs;
	struct jid		 j;
	struct xnode		*auto_reply;
	char			*cause = NULL;
	int			 local, had_mine, had_theirs = 0, full = 0;

	if (jid_parse(to, &j) == -1 || strcmp(to, c->bare) == 0) {
		jid_clear(&j);
		return;
	}
	local = router_is_local(j.domain) && j.local != NULL ?
	    db_user_exists(mmpd->db, j.local, &cause) : 0;
	had_mine = roster_load(c->local, to, &mine);
	if (local == 1)
		had_theirs = roster_load(j.local, c->bare, &theirs);
	else
		memset(&theirs, 0, sizeof(theirs));
	if (local == -1 || had_mine == -1 || had_theirs == -1) {
		if (local == -1)
			log_warnx("roster_subscription: %s: %s", j.local,
			    cause);
		free(cause);
		router_error(c, n, "wait", "internal-server-error");
		goto out;
	}
	if (strcmp(type, "subscribe") == 0 && !had_mine)
		full = db_roster_fits(mmpd->db, c->local, &mine, &cause);
	if (strcmp(type, "subscribe") == 0 && full == 0 && local &&
	    !had_theirs)
		full = db_roster_fits(mmpd->db, j.local, &theirs, &cause);
	if (full != 0) {
		if (full == -1)
			log_warnx("roster_subscription: %s to %s: %s",
			    c->bare, to, cause);
		else
			log_debug("roster_subscription: %s to %s refused: %s",
			    c->bare, to, cause);
		free(cause);
		if (full == -1)
			router_error(c, n, "wait", "internal-server-error");
		else
			router_error(c, n, "cancel", "policy-violation");
		goto out;
	}
	xnode_set_attr(n, "from", c->bare);
	xnode_set_attr(n, "to", to);

	if (strcmp(type, "subscribe") == 0) {
		if (!sub_has(mine.subscription, "to") && !mine.ask) {
			mine.ask = 1;
			if (roster_save(c->local, &mine) == 0)
				roster_push(c->local, &mine, 0);
		}
		if (local && sub_has(theirs.subscription, "from")) {
			/* Already approved: answer for the contact. */
			auto_reply = xnode_new("presence", NULL);
			xnode_set_attr(auto_reply, "type", "subscribed");
			presence_send_to(auto_reply, c->bare, to);
			xnode_free(auto_reply);
		} else if (local) {
			if (!theirs.pending_in) {
				theirs.pending_in = PENDING_HIDDEN;
				roster_save(j.local, &theirs);
			}
			presence_to_sessions(n, to, 1);
		} else
			presence_send_to(n, to, NULL);
	} else if (strcmp(type, "subscribed") == 0) {
		/* RFC 6121 3.1.5: approving what nobody asked is ignored. */
		if (mine.pending_in == 0)
			goto out;
		roster_set_sub(&mine, sub_add(mine.subscription, "from"));
		mine.pending_in = 0;
		if (roster_save(c->local, &mine) == 0)
			roster_push(c->local, &mine, 0);
		if (local) {
			theirs.ask = 0;
			roster_set_sub(&theirs, sub_add(theirs.subscription,
			    "to"));
			if (roster_save(j.local, &theirs) == 0)
				roster_push(j.local, &theirs, 0);
			presence_to_sessions(n, to, 1);
			presence_offer(c->full, c->bare, to);
		} else
			presence_send_to(n, to, NULL);
	} else if (strcmp(type, "unsubscribe") == 0) {
		if (had_mine) {
			roster_set_sub(&mine, sub_del(mine.subscription, "to"));
			mine.ask = 0;
			if (roster_save(c->local, &mine) == 0)
				roster_push(c->local, &mine, 0);
		}
		if (local) {
			if (had_theirs) {
				roster_set_sub(&theirs,
				    sub_del(theirs.subscription, "from"));
				theirs.pending_in = 0;
				if (roster_save(j.local, &theirs) == 0)
					roster_push(j.local, &theirs, 0);
			}
			presence_to_sessions(n, to, 1);
			presence_unavailable_from(to, c->bare);
		} else
			presence_send_to(n, to, NULL);
	} else if (strcmp(type, "unsubscribed") == 0) {
		if (had_mine) {
			roster_set_sub(&mine, sub_del(mine.subscription,
			    "from"));
			mine.pending_in = 0;
			if (roster_save(c->local, &mine) == 0)
				roster_push(c->local, &mine, 0);
		}
		if (local) {
			if (had_theirs) {
				roster_set_sub(&theirs,
				    sub_del(theirs.subscription, "to"));
				theirs.ask = 0;
				if (roster_save(j.local, &theirs) == 0)
					roster_push(j.local, &theirs, 0);
			}
			presence_to_sessions(n, to, 1);
			presence_unavailable_from(c->bare, to);
		} else
			presence_send_to(n, to, NULL);
	}
out:
	jid_clear(&j);
	db_roster_clear(&mine);
	db_roster_clear(&theirs);
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
	struct db_roster	*items, r;
	struct xnode		*q, *res, *rq, *it;
	const char		*type = xnode_attr(n, "type"), *sub, *cond;
	char			*jid, *cause;
	struct jid		 j;
	size_t			 k, i;
	int			 had;

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
	jid_clear(&j);
	if (strcmp(jid, c->bare) == 0) {
		free(jid);
		router_error(c, n, "cancel", "not-allowed");
		return;
	}
	sub = xnode_attr(it, "subscription");
	if (sub != NULL && strcmp(sub, "remove") == 0) {
		/* RFC 6121 2.5.3: removing what is not there is an error. */
		if ((had = roster_load(c->local, jid, &r)) != 1) {
			db_roster_clear(&r);
			free(jid);
			if (had == -1)
				router_error(c, n, "wait",
				    "internal-server-error");
			else
				router_error(c, n, "cancel", "item-not-found");
			return;
		}
		if (sub_has(r.subscription, "to") || r.ask)
			roster_unsub(c, jid, "unsubscribe");
		if (sub_has(r.subscription, "from") || r.pending_in)
			roster_unsub(c, jid, "unsubscribed");
		db_roster_clear(&r);
		if (roster_load(c->local, jid, &r) == -1) {
			free(jid);
			router_error(c, n, "wait", "internal-server-error");
			return;
		}
		if (db_roster_del(mmpd->db, c->local, jid, &cause) == -1) {
			log_warnx("roster_iq: %s", cause);
			free(cause);
		}
		router_roster_del(c->local, jid);
		roster_push(c->local, &r, 1);
	} else {
		if (roster_load(c->local, jid, &r) == -1) {
			free(jid);
			router_error(c, n, "wait", "internal-server-error");
			return;
		}
		if (roster_fields(it, &r, &cond) == -1) {
			db_roster_clear(&r);
			free(jid);
			router_error(c, n, "modify", cond);
			return;
		}
		if ((had = db_roster_fits(mmpd->db, c->local, &r, &cause)) !=
		    0) {
			if (had == -1)
				log_warnx("roster_iq: %s: %s: %s", c->bare,
				    jid, cause);
			else
				log_debug("roster_iq: %s: %s: %s", c->bare,
				    jid, cause);
			free(cause);
			db_roster_clear(&r);
			free(jid);
			if (had == -1)
				router_error(c, n, "wait",
				    "internal-server-error");
			else
				router_error(c, n, "cancel",
				    "policy-violation");
			return;
		}
		if (r.pending_in == PENDING_HIDDEN)
			r.pending_in = PENDING_SHOWN;
		if (roster_save(c->local, &r) == -1) {
			db_roster_clear(&r);
			free(jid);
			router_error(c, n, "cancel", "internal-server-error");
			return;
		}
		roster_push(c->local, &r, 0);
	}
	db_roster_clear(&r);
	free(jid);
	res = xnode_new("iq", NULL);
	xnode_set_attr(res, "type", "result");
	xnode_set_attr(res, "id", xnode_attr(n, "id"));
	xnode_set_attr(res, "to", c->full);
	router_deliver(c, res);
	xnode_free(res);
}

/* Send an unsubscribe or unsubscribed on the user's behalf. */
static void
roster_unsub(struct xconn *c, const char *jid, const char *type)
{
	struct xnode	*p;

	p = xnode_new("presence", NULL);
	xnode_set_attr(p, "type", type);
	roster_subscription(c, p, type, jid);
	xnode_free(p);
}
