/*
 * What a stream was given to send and has not written yet. A message or
 * an iq request handed to a local stream counts as delivered once its
 * bytes reach the kernel; a stream that is freed before that (its peer
 * stopped reading and the drain time ran out, or the socket failed)
 * would lose it without a word. So each such stanza leaves a note of who
 * sent it (name, from, to, id, type) and where its bytes end in the
 * stream's output; the notes of what was written are forgotten as the
 * output drains, and when the stream is buried with bytes unwritten,
 * each stanza not wholly written is answered to its sender with
 * recipient-unavailable (type wait), routed like any stanza from the
 * stream, so that it reaches a sender on another node too.
 *
 * The notes of one stream are packed in one buffer that grows and is
 * reused, not one allocation each: a note costs a copy of five short
 * strings. An idle stream gives the buffer back.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define XUNSENT_FIELDS	5	/* name, from, to, id, type */

/* A stream's notes: records of [end][five NUL-terminated strings]. */
struct xunsent {
	char		*buf;
	size_t		 len;		/* bytes of notes */
	size_t		 cap;
	size_t		 off;		/* the first one unwritten */
	size_t		 n;		/* notes from off on */
};

static int	 xunsent_wanted(const struct xnode *);
static size_t	 xunsent_size(const char *);
static void	 xunsent_forget(struct xunsent *, uint64_t);
static struct xnode *xunsent_error(const char *const *);

/* Whether a stanza is answered if it is not written: message, iq asking. */
static int
xunsent_wanted(const struct xnode *n)
{
	const char	*name = xnode_name(n), *type = xnode_attr(n, "type");

	if (xnode_attr(n, "from") == NULL)
		return (0);
	if (strcmp(name, "message") == 0)
		return (type == NULL || strcmp(type, "error") != 0);
	if (strcmp(name, "iq") == 0)
		return (type != NULL && (strcmp(type, "get") == 0 ||
		    strcmp(type, "set") == 0));
	return (0);
}

/* The bytes of one note whose strings start at s. */
static size_t
xunsent_size(const char *s)
{
	const char	*p = s;
	int		 i;

	for (i = 0; i < XUNSENT_FIELDS; i++)
		p += strlen(p) + 1;
	return (sizeof(uint64_t) + (size_t)(p - s));
}

/* Forget the notes of stanzas wholly written: ending at or before done. */
static void
xunsent_forget(struct xunsent *u, uint64_t done)
{
	uint64_t	 end;

	while (u->off < u->len) {
		memcpy(&end, u->buf + u->off, sizeof(end));
		if (end > done)
			break;
		u->off += xunsent_size(u->buf + u->off + sizeof(end));
		u->n--;
	}
	if (u->off == u->len)
		u->off = u->len = 0;
}

/*
 * Stanza n went into c's output, whose bytes now end at end (counted
 * from the stream's start, as xio_total does), of which done are
 * written: note it if it is a message or an iq request.
 */
void
xunsent_note(struct xconn *c, const struct xnode *n, uint64_t end,
    uint64_t done)
{
	struct xunsent	*u = c->unsent;
	const char	*v[XUNSENT_FIELDS];
	size_t		 need, l;
	int		 i;

	if (u != NULL)
		xunsent_forget(u, done);
	if (end <= done || !xunsent_wanted(n))
		return;
	if (u == NULL)
		u = c->unsent = xcalloc(1, sizeof(*u));
	v[0] = xnode_name(n);
	v[1] = xnode_attr(n, "from");
	v[2] = xnode_attr(n, "to");
	v[3] = xnode_attr(n, "id");
	v[4] = xnode_attr(n, "type");
	need = sizeof(end);
	for (i = 0; i < XUNSENT_FIELDS; i++)
		need += (v[i] != NULL ? strlen(v[i]) : 0) + 1;
	if (u->off > 0 && u->off >= u->len / 2) {
		memmove(u->buf, u->buf + u->off, u->len - u->off);
		u->len -= u->off;
		u->off = 0;
	}
	if (u->len + need > u->cap) {
		u->cap = u->cap == 0 ? 1024 : u->cap;
		while (u->len + need > u->cap)
			u->cap *= 2;
		u->buf = xreallocarray(u->buf, u->cap, 1);
	}
	memcpy(u->buf + u->len, &end, sizeof(end));
	u->len += sizeof(end);
	for (i = 0; i < XUNSENT_FIELDS; i++) {
		l = v[i] != NULL ? strlen(v[i]) : 0;
		memcpy(u->buf + u->len, v[i] != NULL ? v[i] : "", l + 1);
		u->len += l + 1;
	}
	u->n++;
}

/* The error that answers a noted stanza v (name, from, to, id, type). */
static struct xnode *
xunsent_error(const char *const *v)
{
	struct xnode	*r, *e;

	r = xnode_new(v[0], NULL);
	xnode_set_attr(r, "type", "error");
	if (*v[2] != '\0')
		xnode_set_attr(r, "from", v[2]);
	xnode_set_attr(r, "to", v[1]);
	if (*v[3] != '\0')
		xnode_set_attr(r, "id", v[3]);
	e = xnode_add(r, "error", NULL);
	xnode_set_attr(e, "type", "wait");
	xnode_add(e, "recipient-unavailable", NS_STANZA_ERR);
	return (r);
}

/*
 * Stream c is buried with its output written up to done: answer every
 * noted stanza not wholly written to its sender (routed from c), and
 * forget the notes. How many were answered.
 */
size_t
xunsent_answer(struct xconn *c, uint64_t done)
{
	struct xunsent	*u = c->unsent;
	struct xnode	*r;
	const char	*v[XUNSENT_FIELDS];
	const char	*p;
	size_t		 off, n = 0;
	int		 i;

	if (u == NULL)
		return (0);
	xunsent_forget(u, done);
	c->unsent = NULL;	/* routing below must not note again */
	for (off = u->off; off < u->len; off += xunsent_size(p)) {
		p = u->buf + off + sizeof(uint64_t);
		v[0] = p;
		for (i = 1; i < XUNSENT_FIELDS; i++)
			v[i] = v[i - 1] + strlen(v[i - 1]) + 1;
		r = xunsent_error(v);
		router_route(c, r);
		xnode_free(r);
		n++;
	}
	free(u->buf);
	free(u);
	if (n > 0)
		log_info("xunsent_answer: %s: %zu stanzas not written, "
		    "answered to their senders", c->peer, n);
	return (n);
}

/* Give back the notes' buffer if there are none (an idle stream). */
void
xunsent_idle(struct xconn *c, uint64_t done)
{
	struct xunsent	*u = c->unsent;

	if (u == NULL)
		return;
	xunsent_forget(u, done);
	if (u->n == 0)
		xunsent_free(c);
}

/* Forget a stream's notes (it is freed, or has none). */
void
xunsent_free(struct xconn *c)
{
	if (c->unsent == NULL)
		return;
	free(c->unsent->buf);
	free(c->unsent);
	c->unsent = NULL;
}
