/*
 * A connection as the router and presence code see it: something to send
 * stanzas to, fail with a stream error, or close. What that means is up to
 * the connection's operations (struct xconn_ops): a local stream's are the
 * stream code's (stream.c), a pseudo connection's belong to the layer
 * above that made it (the cluster's, for another node's sessions and
 * components). Nothing here knows which is which beyond xconn_is_pseudo.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

/* Send a stanza or other element (nothing once the connection closes). */
void
xconn_send(struct xconn *c, const struct xnode *n)
{
	if (c->closing)
		return;
	c->ops->send(c, n);
}

/* Send bytes we made ourselves (headers, fixed elements), if it takes any. */
void
xconn_send_raw(struct xconn *c, const char *s)
{
	if (c->closing || c->ops->send_raw == NULL)
		return;
	c->ops->send_raw(c, s);
}

/*
 * A stream error (RFC 6120 section 4.9) with an optional text, then
 * close. Safe to call more than once.
 */
void
xconn_error(struct xconn *c, const char *cond, const char *text)
{
	c->ops->error(c, cond, text);
}

/* Close a connection. Safe to call from any callback, more than once. */
void
xconn_close(struct xconn *c)
{
	c->ops->close(c);
}

/*
 * A pseudo connection of kind XC_CLIENT or XC_COMPONENT for a layer above:
 * ready (XS_READY), with that layer's operations and its pointer arg (not
 * NULL; xconn_pseudo_arg gives it back). The caller fills in who it is
 * (local, domain, bare, resource or cdomain, cb; peer, addr), owns it and
 * frees it with xconn_free; ops must outlive it.
 */
struct xconn *
xconn_pseudo_new(int kind, const struct xconn_ops *ops, void *arg)
{
	struct xconn	*c;

	if (arg == NULL)
		fatalx("xconn_pseudo_new: no owner");
	c = xconn_origin_new(kind, ops);
	c->remote = arg;
	return (c);
}

/*
 * A connection of this node with no stream, never on the list of streams:
 * where the core routes stanzas from when no session sends them (a layer
 * above sees it as a local connection). Otherwise as xconn_pseudo_new.
 */
struct xconn *
xconn_origin_new(int kind, const struct xconn_ops *ops)
{
	struct xconn	*c;

	c = xcalloc(1, sizeof(*c));
	c->kind = kind;
	c->state = XS_READY;
	c->ns = kind == XC_CLIENT ? NS_CLIENT : NS_COMPONENT;
	xconn_set_peer(c, "", "");
	c->tls = 1;
	c->header_sent = 1;
	c->since = time(NULL);
	c->ops = ops;
	return (c);
}

/* The owner's pointer of a pseudo connection, NULL for a local stream. */
void *
xconn_pseudo_arg(const struct xconn *c)
{
	return (c->remote);
}

/*
 * Set who c is: its address alone (addr) and address:port (peer), both
 * copied into one allocation of the exact size, replacing any before.
 */
void
xconn_set_peer(struct xconn *c, const char *addr, const char *peer)
{
	size_t	 plen, alen;

	plen = strlen(peer) + 1;
	alen = strlen(addr) + 1;
	free(c->peer);
	c->peer = xmalloc(plen + alen);
	memcpy(c->peer, peer, plen);
	memcpy(c->peer + plen, addr, alen);
	c->addr = c->peer + plen;
}

/* Whether c is a pseudo connection (another node's), not a local stream. */
int
xconn_is_pseudo(const struct xconn *c)
{
	return (c->remote != NULL);
}

/*
 * c's serial, given on first use: unique for the daemon's life, never 0.
 * What waits for something beyond a callback keeps the serial and the
 * session's JID, and finds the connection again (it may be gone).
 */
uint64_t
xconn_serial(struct xconn *c)
{
	static uint64_t	 last;

	if (c->serial == 0)
		c->serial = ++last;
	return (c->serial);
}
