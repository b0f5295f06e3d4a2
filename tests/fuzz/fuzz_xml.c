/*
 * Fuzz target: the XMPP stream parser (daemon/xml/parser.c) and the
 * element tree (daemon/xml/tree.c), as a client's bytes reach them.
 *
 * Input: byte 0 picks the limits (pre-auth, after auth, component, tiny);
 * byte 1 is the largest chunk the rest is fed in (0: all at once), the
 * sizes of the chunks drawn from it; the rest is the stream. A stanza
 * named success or proceed restarts the stream from inside the callback,
 * as SASL and STARTTLS do; an error resets the parser and the rest of the
 * input is a new stream, a few times.
 *
 * Invariants: every stanza serialises, its copy serialises the same, and
 * what we serialise parses back (in a fresh stream) into a stanza that
 * serialises the same again: our escaping is what a peer would read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xml/xml.h"

#define FX_KEEP		16	/* stanzas kept per input for the round trip */
#define FX_RESETS	4	/* resets after errors per input */

/* What the callbacks saw of one input. */
struct fx_state {
	struct xparser	*p;
	char		*ser[FX_KEEP];	/* serialised stanzas */
	size_t		 nser;
	int		 errors;
	int		 restart_ok;	/* restart on success/proceed */
	struct xnode	*back;		/* the stanza of a round trip */
	int		 nback;
};

static void	 fx_start(void *, const char *, const char *, const char *,
		    const char **);
static void	 fx_stanza(void *, struct xnode *);
static void	 fx_end(void *);
static void	 fx_error(void *, int, const char *);
static void	 fx_walk(const struct xnode *, int);
static void	 fx_back_stanza(void *, struct xnode *);
static void	 fx_round_trip(const char *);

static const struct xparser_cb fx_cb = {
	fx_start, fx_stanza, fx_end, fx_error
};

static const struct xparser_cb fx_back_cb = {
	NULL, fx_back_stanza, NULL, NULL
};

/* The stream header: its attribute list is complete pairs. */
static void
fx_start(void *arg, const char *name, const char *ns, const char *defns,
    const char **attrs)
{
	size_t	 i;

	(void)arg;
	(void)defns;
	FUZZ_ASSERT(name != NULL && ns != NULL);
	for (i = 0; attrs[i] != NULL; i += 2)
		FUZZ_ASSERT(attrs[i + 1] != NULL);
}

/* Every node of a tree answers its accessors. */
static void
fx_walk(const struct xnode *n, int depth)
{
	const struct xnode	*c;

	FUZZ_ASSERT(depth < 1000);
	if (xnode_name(n) != NULL)
		(void)xnode_attr(n, "xml:lang");
	for (c = xnode_first(n); c != NULL; c = xnode_next(c))
		fx_walk(c, depth + 1);
}

/* A stanza: serialise, copy, walk; keep the text for the round trip. */
static void
fx_stanza(void *arg, struct xnode *n)
{
	struct fx_state	*st = arg;
	struct xnode	*copy;
	char		*s, *s2, *text;
	size_t		 len, len2;

	FUZZ_ASSERT(xnode_name(n) != NULL);
	s = xnode_string(n, &len);
	FUZZ_ASSERT(s != NULL && strlen(s) == len);
	copy = xnode_copy(n);
	s2 = xnode_string(copy, &len2);
	FUZZ_ASSERT(len == len2 && memcmp(s, s2, len) == 0);
	free(s2);
	xnode_free(copy);
	text = xnode_text(n);
	free(text);
	(void)xnode_count(n);
	fx_walk(n, 0);
	if (st->nser < FX_KEEP)
		st->ser[st->nser++] = s;
	else
		free(s);
	if (st->restart_ok && (strcmp(xnode_name(n), "success") == 0 ||
	    strcmp(xnode_name(n), "proceed") == 0))
		xparser_reset(st->p);
	xnode_free(n);
}

/* </stream:stream>. */
static void
fx_end(void *arg)
{
	(void)arg;
}

/* A stream error: a known code and a message. */
static void
fx_error(void *arg, int code, const char *msg)
{
	struct fx_state	*st = arg;

	FUZZ_ASSERT(code >= XP_NOT_WELL_FORMED && code <= XP_BAD_FORMAT);
	FUZZ_ASSERT(msg != NULL);
	st->errors++;
}

/* The stanza of a round trip. */
static void
fx_back_stanza(void *arg, struct xnode *n)
{
	struct fx_state	*st = arg;

	if (st->back == NULL)
		st->back = n;
	else
		xnode_free(n);
	st->nback++;
}

/*
 * Parse our serialisation s in a stream of its own: exactly one stanza,
 * which serialises to s again.
 */
static void
fx_round_trip(const char *s)
{
	static const char	 hdr[] = "<stream:stream xmlns:stream="
	    "'http://etherx.jabber.org/streams'>";
	struct fx_state		 st;
	struct xparser		*p;
	char			*again;

	memset(&st, 0, sizeof(st));
	p = xparser_new(&fx_back_cb, &st);
	xparser_set_limits(p, 4 * 1024 * 1024, 1000, 1000000);
	FUZZ_ASSERT(xparser_feed(p, hdr, sizeof(hdr) - 1) == 0);
	FUZZ_ASSERT(xparser_feed(p, s, strlen(s)) == 0);
	FUZZ_ASSERT(st.nback == 1 && st.back != NULL);
	again = xnode_string(st.back, NULL);
	FUZZ_ASSERT(strcmp(again, s) == 0);
	free(again);
	xnode_free(st.back);
	xparser_free(p);
}

/* One input: see the comment at the top. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		size_t	 bytes;
		int	 depth;
		size_t	 nodes;
	} lim[] = {
		{ 10240, 32, 5000 },		/* before auth */
		{ 262144, 32, 5000 },		/* after auth */
		{ 524288, 32, 5000 },		/* components */
		{ 96, 4, 8 },			/* tiny: reach every limit */
	};
	struct fx_state	 st;
	const char	*in;
	size_t		 len, n, i;
	uint32_t	 rnd;
	unsigned int	 maxchunk;

	if (size < 2)
		return (0);
	memset(&st, 0, sizeof(st));
	st.restart_ok = (data[0] & 0x80) == 0;
	maxchunk = data[1];
	rnd = 2463534242U ^ data[0] ^ ((uint32_t)data[1] << 8);
	in = (const char *)data + 2;
	len = size - 2;

	st.p = xparser_new(&fx_cb, &st);
	xparser_set_limits(st.p, lim[data[0] % 4].bytes,
	    lim[data[0] % 4].depth, lim[data[0] % 4].nodes);
	while (len > 0) {
		n = len;
		if (maxchunk != 0) {
			rnd ^= rnd << 13;
			rnd ^= rnd >> 17;
			rnd ^= rnd << 5;
			n = 1 + rnd % maxchunk;
			if (n > len)
				n = len;
		}
		if (xparser_feed(st.p, in, n) == -1) {
			if (st.errors > FX_RESETS)
				break;
			xparser_reset(st.p);
		}
		in += n;
		len -= n;
	}
	xparser_free(st.p);

	for (i = 0; i < st.nser; i++) {
		fx_round_trip(st.ser[i]);
		free(st.ser[i]);
	}
	return (0);
}
