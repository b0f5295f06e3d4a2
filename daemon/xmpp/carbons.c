/*
 * XEP-0280 Message Carbons. A session asks for copies of the messages
 * its account's other sessions send and receive (c->carbons, set by an
 * enable or disable iq to the server or to its own bare JID). The router
 * makes the copies where it routes a message: it opens a pass
 * (carbons_begin), notes each session it hands the message to
 * (carbons_delivered, from router_deliver) and closes the pass
 * (carbons_end), which sends a <sent/> copy to the sender's other
 * carbons-enabled sessions and a <received/> copy to the recipient's
 * carbons-enabled sessions that did not get the message, each wrapped in
 * <forwarded xmlns='urn:xmpp:forward:0'> (XEP-0297).
 *
 * In a cluster the router runs on the leader: the flag of another node's
 * session lives on its pseudo connection. That node tracks it on its own
 * session as the client's iq passes through (carbons_track) and carries
 * it in its registration, so that a new leader knows it.
 */
#include <sys/types.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

static struct carbons_pass *now;	/* the innermost pass open */
static int		 quiet;		/* carbons_quiet */

static int	 carbons_wrapper(const struct xnode *);
static int	 carbons_got(const struct carbons_pass *,
		    const struct xconn *);
static void	 carbons_copy(const struct carbons_pass *, const char *,
		    const char *, const char *, const struct xnode *);

/*
 * Whether n carries a carbons wrapper (<sent/> or <received/>): a copy
 * we made, or one a client made up; never copied again.
 */
static int
carbons_wrapper(const struct xnode *n)
{
	return (xnode_child(n, "sent", NS_CARBONS) != NULL ||
	    xnode_child(n, "received", NS_CARBONS) != NULL);
}

/*
 * Whether message n is one to copy (XEP-0280 section 6): chat, or normal
 * with a body; not groupchat, headline or error; not marked private or
 * no-copy (XEP-0334); never a carbon.
 */
int
carbons_eligible(const struct xnode *n)
{
	const char	*type = xnode_attr(n, "type");
	struct xnode	*b;

	if (strcmp(xnode_name(n), "message") != 0)
		return (0);
	if (type != NULL && strcmp(type, "chat") != 0) {
		if (strcmp(type, "normal") != 0)
			return (0);
		type = NULL;
	}
	/* A body of the stanza's own namespace (stripped: inherited). */
	if (type == NULL && ((b = xnode_child(n, "body", NULL)) == NULL ||
	    xnode_ns(b) != NULL))
		return (0);
	if (xnode_child(n, "private", NS_CARBONS) != NULL ||
	    xnode_child(n, "no-copy", NS_HINTS) != NULL)
		return (0);
	return (!carbons_wrapper(n));
}

/*
 * Open pass p for message n (the router's, stripped) to local account
 * to_bare (NULL: not one of ours), nested in any pass open. A
 * <private/> is removed from what the recipient gets (XEP-0280
 * section 7); it and anything not eligible make no copies.
 */
void
carbons_begin(struct carbons_pass *p, struct xnode *n, const char *to_bare)
{
	struct xnode	*k;

	memset(p, 0, sizeof(*p));
	p->msg = n;
	p->was = now;
	p->copy = carbons_eligible(n);
	p->quiet = quiet;
	now = p;
	if (to_bare == NULL ||
	    (k = xnode_child(n, "private", NS_CARBONS)) == NULL)
		return;
	xnode_free(k);		/* unlinks it */
}

/* The router hands the message of the pass open to c: note c. */
void
carbons_delivered(struct xconn *c, const struct xnode *n)
{
	if (now == NULL || !now->copy || now->msg != n)
		return;
	if (now->ngot < CARBONS_GOT_MAX)
		now->got[now->ngot++] = c;
	else
		now->over = 1;
}

/* Whether session c got the message of pass p itself. */
static int
carbons_got(const struct carbons_pass *p, const struct xconn *c)
{
	int	 i;

	for (i = 0; i < p->ngot; i++)
		if (p->got[i] == c || (p->got[i]->full != NULL &&
		    c->full != NULL && strcmp(p->got[i]->full, c->full) == 0))
			return (1);
	/* More than noted: none of the rest can be told from them. */
	return (p->over);
}

/*
 * A copy of message n, wrapped in <how/> (sent or received), to each
 * carbons-enabled session of account bare but the one whose full JID is
 * skip (may be NULL) and those that got n.
 */
static void
carbons_copy(const struct carbons_pass *p, const char *bare, const char *how,
    const char *skip, const struct xnode *n)
{
	struct xconn	**s;
	struct xnode	*w, *f, *inner;
	const char	*type = xnode_attr(n, "type");
	int		 i, k, max;

	if ((max = router_sessions(bare, NULL, INT_MAX)) <= 1)
		return;
	s = xreallocarray(NULL, max, sizeof(*s));
	k = router_sessions(bare, s, max);
	w = NULL;
	for (i = 0; i < k; i++) {
		if (!s[i]->carbons || s[i]->full == NULL ||
		    (skip != NULL && strcmp(s[i]->full, skip) == 0) ||
		    carbons_got(p, s[i]))
			continue;
		if (w == NULL) {
			w = xnode_new("message", NULL);
			xnode_set_attr(w, "from", bare);
			if (type != NULL)
				xnode_set_attr(w, "type", type);
			f = xnode_add(xnode_add(w, how, NS_CARBONS),
			    "forwarded", NS_FORWARD);
			inner = xnode_copy(n);
			xnode_set_ns(inner, NS_CLIENT);
			xnode_append(f, inner);
		}
		xnode_set_attr(w, "to", s[i]->full);
		router_deliver(s[i], w);
	}
	xnode_free(w);
	free(s);
}

/*
 * Close pass p for its message, routed from c: the copies. A sent copy
 * goes to the sender's other carbons-enabled sessions when a client of
 * ours sent it (whatever became of it); a received copy to the
 * recipient's (local account to_bare, NULL if none) carbons-enabled
 * sessions that did not get it, if any did. A message between two
 * sessions of one account makes sent copies only: one copy each.
 */
void
carbons_end(struct carbons_pass *p, struct xconn *c, const char *to_bare)
{
	int	 self = 0;

	now = p->was;
	if (!p->copy || p->quiet)
		return;
	if (c->kind == XC_CLIENT && c->bare != NULL && c->full != NULL) {
		self = to_bare != NULL && strcmp(c->bare, to_bare) == 0;
		carbons_copy(p, c->bare, "sent", c->full, p->msg);
	}
	if (to_bare != NULL && !self && p->ngot > 0)
		carbons_copy(p, to_bare, "received", NULL, p->msg);
}

/* Make no copies while on (a stanza routed a second time). */
void
carbons_quiet(int on)
{
	quiet = on;
}

/*
 * The carbons iq n (type get or set, one child in NS_CARBONS) from
 * client c to the server or its own bare JID: <enable/> or <disable/>
 * sets the flag and answers from where the iq went; a get is malformed
 * (both are sets), any other child is not a request we know.
 */
void
carbons_iq(struct xconn *c, struct xnode *n)
{
	const char	*type = xnode_attr(n, "type");
	struct xnode	*q = xnode_first(n), *r;
	const char	*what = xnode_name(q);

	if (strcmp(what, "enable") != 0 && strcmp(what, "disable") != 0) {
		router_error(c, n, "cancel", "feature-not-implemented");
		return;
	}
	if (strcmp(type, "set") != 0) {
		router_error(c, n, "modify", "bad-request");
		return;
	}
	c->carbons = strcmp(what, "enable") == 0;
	log_debug("carbons_iq: %s: carbons %s", c->full ? c->full : c->peer,
	    c->carbons ? "on" : "off");
	/* From where it went: the domain, the bare JID, or none (RFC 6120
	   8.1.2.1: then it is from the account). */
	r = xnode_new("iq", NULL);
	if (xnode_attr(n, "to") != NULL)
		xnode_set_attr(r, "from", xnode_attr(n, "to"));
	xnode_set_attr(r, "to", c->full);
	xnode_set_attr(r, "id", xnode_attr(n, "id"));
	xnode_set_attr(r, "type", "result");
	router_deliver(c, r);
	xnode_free(r);
}

/*
 * A stanza of this node's session c that goes to another node to be
 * routed (a cluster follower forwards it): if it is a carbons enable or
 * disable the router will take, note it on c too, which a new leader
 * learns when c registers again.
 */
void
carbons_track(struct xconn *c, const struct xnode *n)
{
	const char	*type = xnode_attr(n, "type");
	const char	*to = xnode_attr(n, "to");
	struct xnode	*q;
	struct jid	 j;
	int		 ours;

	if (strcmp(xnode_name(n), "iq") != 0 || type == NULL ||
	    strcmp(type, "set") != 0 || (q = xnode_first(n)) == NULL ||
	    xnode_next(q) != NULL || xnode_ns(q) == NULL ||
	    strcmp(xnode_ns(q), NS_CARBONS) != 0 ||
	    xnode_attr(n, "id") == NULL || c->local == NULL)
		return;
	/* As the router reads 'to': the server, or c's own bare JID. */
	memset(&j, 0, sizeof(j));
	if (to != NULL && jid_parse(to, &j) == -1) {
		jid_clear(&j);
		return;
	}
	ours = to == NULL || (j.resource == NULL &&
	    router_is_local(j.domain) &&
	    (j.local == NULL || strcmp(j.local, c->local) == 0));
	jid_clear(&j);
	if (!ours)
		return;
	if (strcmp(xnode_name(q), "enable") == 0)
		c->carbons = 1;
	else if (strcmp(xnode_name(q), "disable") == 0)
		c->carbons = 0;
}
