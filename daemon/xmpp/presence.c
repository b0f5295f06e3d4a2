/*
 * Presence between local accounts (RFC 6121 section 4): broadcast to the
 * account's own resources and to contacts subscribed to it, probes
 * answered from what we know, directed presence, unavailable presence
 * when a session ends. Who is subscribed to whom is the roster's
 * (roster.c); subscription requests go there too.
 *
 * Broadcasts and probes read only the JIDs they need (db_roster_jids), so
 * with the roster caps no request holds more than DB_ROSTER_MAX_BYTES of
 * roster at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "util.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define PRES_MAX_SESSIONS	64

static void	 pres_broadcast(struct xconn *, const struct xnode *);
static void	 pres_probe(struct xconn *);

/* A copy of a presence, addressed to one JID, sent to one stream. */
void
presence_send_to(const struct xnode *n, const char *to, const char *from)
{
	struct xconn	*target;
	struct xnode	*copy;
	struct jid	 j;
	char		*bare;

	if (jid_parse(to, &j) == -1)
		return;
	copy = xnode_copy(n);
	xnode_set_attr(copy, "to", to);
	if (from != NULL)
		xnode_set_attr(copy, "from", from);
	if (router_is_local(j.domain) && j.local != NULL) {
		bare = jid_bare(&j);
		if (j.resource != NULL) {
			if ((target = router_resource(bare, j.resource)) !=
			    NULL)
				router_deliver(target, copy);
		} else
			presence_to_sessions(copy, bare, 1);
		free(bare);
	} else if ((target = router_component(j.domain)) != NULL)
		router_deliver(target, copy);
	xnode_free(copy);
	jid_clear(&j);
}

/* A presence to every (available) session of an account, each by JID. */
void
presence_to_sessions(const struct xnode *n, const char *bare, int available)
{
	struct xconn	*s[PRES_MAX_SESSIONS];
	struct xnode	*copy;
	int		 i, k;

	k = router_sessions(bare, s, PRES_MAX_SESSIONS);
	for (i = 0; i < k; i++) {
		if (available && !s[i]->available)
			continue;
		copy = xnode_copy(n);
		xnode_set_attr(copy, "to", s[i]->full);
		router_deliver(s[i], copy);
		xnode_free(copy);
	}
}

/*
 * Broadcast a session's presence (RFC 6121 4.2.2, 4.4.2): to the
 * account's own available resources and to every contact subscribed to it.
 */
static void
pres_broadcast(struct xconn *c, const struct xnode *n)
{
	char	**jids, *cause;
	int	  k, i;

	presence_to_sessions(n, c->bare, 1);
	if (db_roster_jids(mmpd->db, c->local, DB_ROSTER_FROM, &jids, &k,
	    &cause) == -1) {
		log_warnx("pres_broadcast: %s: %s", c->local, cause);
		free(cause);
		return;
	}
	for (i = 0; i < k; i++)
		presence_send_to(n, jids[i], NULL);
	util_free_argv(jids, k);
}

/*
 * The probes of an initial presence, answered locally (RFC 6121 4.3): the
 * current presence of every contact this account is subscribed to, and
 * subscription requests that waited while it was away.
 */
static void
pres_probe(struct xconn *c)
{
	struct xconn	*s[PRES_MAX_SESSIONS];
	struct xnode	*ask;
	char		**jids, *cause;
	int		  k, i, m, x;

	if (db_roster_jids(mmpd->db, c->local, DB_ROSTER_ASKED, &jids, &k,
	    &cause) == -1) {
		log_warnx("pres_probe: %s: %s", c->local, cause);
		free(cause);
	} else {
		for (i = 0; i < k; i++) {
			ask = xnode_new("presence", NULL);
			xnode_set_attr(ask, "type", "subscribe");
			xnode_set_attr(ask, "from", jids[i]);
			xnode_set_attr(ask, "to", c->bare);
			router_deliver(c, ask);
			xnode_free(ask);
		}
		util_free_argv(jids, k);
	}
	if (db_roster_jids(mmpd->db, c->local, DB_ROSTER_TO, &jids, &k,
	    &cause) == -1) {
		log_warnx("pres_probe: %s: %s", c->local, cause);
		free(cause);
		return;
	}
	for (i = 0; i < k; i++) {
		m = router_sessions(jids[i], s, PRES_MAX_SESSIONS);
		for (x = 0; x < m; x++) {
			if (!s[x]->available || s[x]->presence == NULL)
				continue;
			presence_send_to(s[x]->presence, c->full, s[x]->full);
		}
	}
	util_free_argv(jids, k);
}

/* Send the available presences of account from to (bare) JID to. */
void
presence_offer(const char *from, const char *frombare, const char *to)
{
	struct xconn	*s[PRES_MAX_SESSIONS];
	int		 i, k;

	(void)from;
	k = router_sessions(frombare, s, PRES_MAX_SESSIONS);
	for (i = 0; i < k; i++)
		if (s[i]->available && s[i]->presence != NULL)
			presence_send_to(s[i]->presence, to, s[i]->full);
}

/* Unavailable presence from every session of frombare, to JID to. */
void
presence_unavailable_from(const char *frombare, const char *to)
{
	struct xconn	*s[PRES_MAX_SESSIONS];
	struct xnode	*u;
	int		 i, k;

	k = router_sessions(frombare, s, PRES_MAX_SESSIONS);
	for (i = 0; i < k; i++) {
		if (!s[i]->available)
			continue;
		u = xnode_new("presence", NULL);
		xnode_set_attr(u, "type", "unavailable");
		presence_send_to(u, to, s[i]->full);
		xnode_free(u);
	}
}

/*
 * Note a session's broadcast presence (available, no 'to'): its priority
 * and a copy to answer probes with. Followers keep it too, for when they
 * register the session with a new leader.
 */
void
presence_note(struct xconn *c, const struct xnode *n)
{
	struct xnode	*pri;
	char		*v;

	c->available = 1;
	c->priority = 0;
	if ((pri = xnode_child(n, "priority", NULL)) != NULL) {
		v = xnode_text(pri);
		c->priority = atoi(v);
		if (c->priority < -128 || c->priority > 127)
			c->priority = 0;
		free(v);
	}
	xnode_free(c->presence);
	c->presence = xnode_copy(n);
	xnode_del_attr(c->presence, "to");
}

/* A presence stanza from a client (its 'from' is stamped already). */
void
presence_from_client(struct xconn *c, struct xnode *n, struct jid *to)
{
	const char	*type = xnode_attr(n, "type");
	char		*bare;
	int		 first;

	if (to != NULL && type != NULL && (strcmp(type, "subscribe") == 0 ||
	    strcmp(type, "subscribed") == 0 ||
	    strcmp(type, "unsubscribe") == 0 ||
	    strcmp(type, "unsubscribed") == 0)) {
		bare = jid_bare(to);
		roster_subscription(c, n, type, bare);
		free(bare);
		return;
	}
	if (to != NULL) {
		/* Directed presence, or a probe we answer from our tables. */
		if (type != NULL && strcmp(type, "probe") == 0)
			return;
		presence_send_to(n, xnode_attr(n, "to"), NULL);
		return;
	}
	if (type != NULL && strcmp(type, "unavailable") == 0) {
		if (c->available) {
			pres_broadcast(c, n);
			presence_track(c, n);
		}
		return;
	}
	if (type != NULL)
		return;			/* error, probe with no 'to' */
	first = !c->available;
	presence_track(c, n);
	pres_broadcast(c, n);
	if (first) {
		pres_probe(c);
		offline_deliver(c);
	}
}

/* Directed presence to a local bare JID from a component. */
void
presence_to_bare(struct xconn *from, struct xnode *n, const char *bare)
{
	(void)from;
	presence_to_sessions(n, bare, 1);
}

/* A session ends: unavailable to everyone who saw it available. */
void
presence_gone(struct xconn *c)
{
	struct xnode	*u;

	if (!c->available)
		return;
	u = xnode_new("presence", NULL);
	xnode_set_attr(u, "type", "unavailable");
	xnode_set_attr(u, "from", c->full);
	c->available = 0;
	pres_broadcast(c, u);
	xnode_free(u);
}

/*
 * What a session's own stanza (stripped, 'from' stamped) changes of the
 * presence state presence_from_client and roster_iq keep, without sending
 * anything: a broadcast presence is noted or, unavailable, cleared; a
 * roster get marks the session as wanting roster pushes. A cluster
 * follower keeps this for the session's registration with a leader.
 */
void
presence_track(struct xconn *c, const struct xnode *n)
{
	const char	*name = xnode_name(n), *type = xnode_attr(n, "type");
	const char	*to = xnode_attr(n, "to");
	struct xnode	*q;

	if (strcmp(name, "iq") == 0) {
		if (type != NULL && strcmp(type, "get") == 0 &&
		    (to == NULL || strcmp(to, c->bare) == 0) &&
		    (q = xnode_first(n)) != NULL && xnode_ns(q) != NULL &&
		    strcmp(xnode_ns(q), NS_ROSTER) == 0)
			c->roster_wanted = 1;
		return;
	}
	if (strcmp(name, "presence") != 0 || to != NULL)
		return;
	if (type != NULL && strcmp(type, "unavailable") == 0) {
		c->available = 0;
		xnode_free(c->presence);
		c->presence = NULL;
		return;
	}
	if (type != NULL)
		return;
	presence_note(c, n);
}
