/*
 * The XMPP stream parser: libxml2's push parser with our own SAX2
 * callbacks, one libxml2 context per stream (renewed by xparser_reset),
 * building an xnode tree for each child of the stream root.
 *
 * XMPP forbids DTDs, entity declarations, comments and processing
 * instructions (RFC 6120 section 11.1): each stops the parser with
 * restricted-xml. Only the five predefined entities and character
 * references are known; nothing is ever expanded or loaded. libxml2's push
 * mode limits neither depth nor the size of a stanza, so we count depth,
 * bytes since the end of the last stanza and nodes per stanza ourselves,
 * and never hand libxml2 more bytes than the stanza budget allows, so that
 * it cannot buffer without bound either.
 *
 * What libxml2 2.9.14's push mode does with partial input, as found by
 * feeding every input a byte at a time (tests/unit/check_xml.c): a start
 * or end tag is reported by the xmlParseChunk call that hands it the tag's
 * closing '>' (even with '>' inside quoted attribute values), so a stanza
 * is delivered as soon as its last byte is fed, with terminate 0 and no
 * flushing trick: there is no end-tag delay to work around. startElementNs
 * comes before libxml2 steps over that '>'. Character data is held back
 * until the next '<' (or a few hundred bytes) arrives, which only delays
 * whitespace keepalives; invalid UTF-8 in it is reported then. Calling
 * xmlStopParser from our callbacks is safe in this version (checked under
 * valgrind, which sees inside libxml2 where ASan does not).
 *
 * This file has the parser's life cycle and hands libxml2 the input
 * within the stanza budget; scan.c is the pre-scan that holds unfinished
 * tags back, sax.c the SAX2 callbacks that apply the limits and build
 * the tree. Their shared state is in xml_int.h.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "log.h"
#include "xmalloc.h"
#include "xml/xml.h"
#include "xml/xml_int.h"

static void	xp_work_new(struct xparser *);
static void	xp_work_free(struct xparser *);
static void	xp_open(struct xparser *);
static void	xp_close(struct xparser *);
static xmlParserCtxtPtr xp_ctxt_new(struct xparser *);
static int	xp_push(struct xparser *, const char *, size_t);
static void	xp_hdr_copy(struct xparser *, const char *, size_t);
static void	xp_hdr_done(struct xparser *);
static int	xp_revive(struct xparser *);
static void	xp_hold(struct xparser *, const char *, size_t);

/* A libxml2 push context for p, set up for XMPP. */
static xmlParserCtxtPtr
xp_ctxt_new(struct xparser *p)
{
	xmlSAXHandler	 sax;
	xmlParserCtxtPtr ctxt;

	memset(&sax, 0, sizeof(sax));
	xp_sax_init(&sax);
	ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
	if (ctxt == NULL)
		fatalx("xp_ctxt_new: xmlCreatePushParserCtxt failed");
	/*
	 * No XML_PARSE_NOENT (never substitute entities), no DTDLOAD or
	 * DTDVALID (never load a DTD), NONET for good measure; the stream is
	 * UTF-8 whatever a declaration says (RFC 6120 section 11.6).
	 */
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_IGNORE_ENC);
	xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
	ctxt->replaceEntities = 0;
	ctxt->loadsubset = 0;
	ctxt->validate = 0;
	return (ctxt);
}

/*
 * The work state of a parser that has none (xparser_idle freed it, or a
 * new parser), with the pre-scan between stanzas.
 */
static void
xp_work_new(struct xparser *p)
{
	if (p->w == NULL) {
		p->w = xcalloc(1, sizeof(*p->w));
		p->w->lex = XL_TEXT;
	}
}

/* Free a parser's work state and its buffers (there is no context). */
static void
xp_work_free(struct xparser *p)
{
	if (p->w == NULL)
		return;
	xnode_free(p->w->stanza);
	free(p->w->stack);
	free(p->w->hold);
	free(p->w->vbuf);
	free(p->w->lexmsg);
	free(p->w);
	p->w = NULL;
}

/* Create a libxml2 push context for a new stream. */
static void
xp_open(struct xparser *p)
{
	xp_work_new(p);
	p->w->ctxt = xp_ctxt_new(p);
	p->state = XP_RUN;
	p->restart = 0;
	p->error = 0;
	p->depth = 0;
	p->w->nodes = 0;
	p->w->lasttext = 0;
	p->fed = 0;
	p->mark = 0;
	p->w->lex = XL_TEXT;
	p->w->lexerr = 0;
	free(p->w->lexmsg);
	p->w->lexmsg = NULL;
	free(p->errmsg);
	p->errmsg = NULL;
	p->w->holdlen = 0;
	p->hdrstate = XH_COPY;
	p->hdrlen = 0;
	p->hdrend = 0;
}

/* Drop the libxml2 context and any half-built stanza. */
static void
xp_close(struct xparser *p)
{
	if (p->w != NULL && p->w->ctxt != NULL) {
		xmlFreeParserCtxt(p->w->ctxt);
		p->w->ctxt = NULL;
	}
	if (p->w != NULL) {
		xnode_free(p->w->stanza);
		p->w->stanza = NULL;
	}
	free(p->hdr);
	p->hdr = NULL;
	p->hdrlen = 0;
}

/* A new parser calling cb with arg; it starts at the beginning of a stream. */
struct xparser *
xparser_new(const struct xparser_cb *cb, void *arg)
{
	static int	 initialised;
	struct xparser	*p;

	if (!initialised) {
		xmlInitParser();
		initialised = 1;
	}
	p = xcalloc(1, sizeof(*p));
	p->cb = cb;
	p->arg = arg;
	p->max_bytes = XP_MAX_BYTES;
	p->max_depth = XP_MAX_DEPTH;
	p->max_nodes = XP_MAX_NODES;
	xp_open(p);
	return (p);
}

/*
 * Free the parser. Never from inside one of its callbacks (that is a
 * fatal error): a callback that wants the stream gone sets a flag that
 * its caller reads after xparser_feed returns, and frees then.
 */
void
xparser_free(struct xparser *p)
{
	if (p == NULL)
		return;
	if (p->busy)
		fatalx("xparser_free: called from a parser callback");
	xp_close(p);
	xp_work_free(p);
	free(p->errmsg);
	free(p);
}

/*
 * Start a new stream (after STARTTLS or SASL success, or after an error);
 * the limits stay as set. From inside the stream_start or stanza callback,
 * parsing stops there: the rest of the bytes given to that xparser_feed
 * call are discarded, and the next call starts the new stream. For
 * STARTTLS this is what RFC 6120 section 5.4.3.3 asks: nothing sent in the
 * clear after <starttls/> may be used. From the error callback it takes
 * effect at once.
 */
void
xparser_reset(struct xparser *p)
{
	if (p->inparse) {
		if (!p->restart) {
			p->restart = 1;
			xmlStopParser(p->w->ctxt);
		}
		return;
	}
	xp_close(p);
	xp_open(p);
}

/*
 * Set the limits: bytes per stanza (counted from the end of the previous
 * stanza), element depth counting the stream root, and nodes (elements and
 * text) per stanza. A zero leaves that limit as it is.
 */
void
xparser_set_limits(struct xparser *p, size_t max_bytes, int max_depth,
    size_t max_nodes)
{
	if (max_bytes != 0)
		p->max_bytes = max_bytes > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)max_bytes;
	if (max_depth > 0)
		p->max_depth = max_depth > INT16_MAX - 1 ? INT16_MAX - 1 :
		    (uint16_t)max_depth;
	if (max_nodes != 0)
		p->max_nodes = max_nodes > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)max_nodes;
}

/*
 * Parse len bytes of the stream, calling back for the stream start, each
 * stanza, the stream end and errors. Returns 0, or -1 once an error has
 * been reported (and for every call after that until xparser_reset).
 * After </stream:stream>, input is ignored.
 *
 * The bytes are scanned first (xp_scan): what ends outside a tag goes to
 * libxml2 at once; the start of an unfinished tag is kept back until its
 * '>' arrives. libxml2 checks a start tag's attributes for duplicates
 * pairwise (28,000 of them took 1.8 s), so it only ever gets whole tags
 * whose attributes have been counted, and none over the limit.
 */
int
xparser_feed(struct xparser *p, const char *buf, size_t len)
{
	size_t	 safe;
	int	 rc = 0;

	if (p->busy)
		fatalx("xparser_feed: called from a parser callback");
	if (p->state == XP_FAILED)
		return (-1);
	p->busy = 1;
	if (p->state == XP_RUN && len > 0 && p->w == NULL)
		rc = xp_revive(p);
	if (rc == 0 && p->state == XP_RUN && len > 0) {
		safe = xp_scan(p, buf, len);
		if (safe > 0 && p->w->holdlen > 0) {
			/* The tag held back is complete now. */
			rc = xp_push(p, p->w->hold, p->w->holdlen);
			p->w->holdlen = 0;
			if (p->w->holdcap > XP_BUF_KEEP) {
				free(p->w->hold);
				p->w->hold = NULL;
				p->w->holdcap = 0;
			}
		}
		if (rc == 0 && safe > 0)
			rc = xp_push(p, buf, safe);
		if (p->restart) {
			xp_close(p);
			xp_open(p);
			p->busy = 0;
			return (0);
		}
		if (rc == 0 && p->state == XP_RUN && p->error == 0) {
			if (p->w->lexerr != 0)
				xp_fail(p, p->w->lexerr, "%s", p->w->lexmsg);
			else if (safe < len)
				xp_hold(p, buf + safe, len - safe);
		}
	}
	if (p->error != 0) {
		p->state = XP_FAILED;
		if (p->w != NULL) {
			xnode_free(p->w->stanza);
			p->w->stanza = NULL;
			p->w->holdlen = 0;
		}
		if (p->cb->error != NULL)
			p->cb->error(p->arg, p->error, p->errmsg);
		p->busy = 0;
		return (-1);
	}
	p->busy = 0;
	return (0);
}

/*
 * Hand len bytes to libxml2, never more than the budget left for the
 * stanza being read, so that it never holds more than that; a stanza that
 * ends inside a slice renews the budget. Returns 0, or -1 if parsing
 * stopped (an error, a restart or the end of the stream).
 */
static int
xp_push(struct xparser *p, const char *buf, size_t len)
{
	size_t	 used, n;
	int	 rc;

	while (p->state == XP_RUN && len > 0) {
		used = p->fed - p->mark;
		if (used >= p->max_bytes) {
			xp_fail(p, XP_POLICY, "stanza larger than %zu bytes",
			    (size_t)p->max_bytes);
			return (-1);
		}
		n = p->max_bytes - used;
		if (n > len)
			n = len;
		if (n > INT_MAX)
			n = INT_MAX;
		p->fed += n;
		if (p->hdrstate == XH_COPY)
			xp_hdr_copy(p, buf, n);
		p->inparse = 1;
		rc = xmlParseChunk(p->w->ctxt, buf, (int)n, 0);
		p->inparse = 0;
		if (p->hdrstate == XH_COPY && p->depth > 0)
			xp_hdr_done(p);
		buf += n;
		len -= n;
		if (p->restart)
			return (-1);
		/* After xmlStopParser the return code, not wellFormed. */
		if (rc != 0 && p->state == XP_RUN && p->error == 0)
			xp_fail(p, XP_NOT_WELL_FORMED, "libxml2 error %d", rc);
		if (p->error != 0)
			return (-1);
	}
	return (p->state == XP_RUN ? 0 : -1);
}

/*
 * Keep the start of an unfinished tag for the next xparser_feed; it
 * counts against the stanza budget as if libxml2 had it.
 */
static void
xp_hold(struct xparser *p, const char *buf, size_t len)
{
	size_t	 cap;

	if (p->fed - p->mark + p->w->holdlen + len > p->max_bytes) {
		xp_fail(p, XP_POLICY, "stanza larger than %zu bytes",
		    (size_t)p->max_bytes);
		return;
	}
	if (p->w->holdlen + len > p->w->holdcap) {
		cap = p->w->holdcap == 0 ? 256 : p->w->holdcap;
		while (cap < p->w->holdlen + len)
			cap *= 2;
		p->w->hold = xreallocarray(p->w->hold, 1, cap);
		p->w->holdcap = cap;
	}
	memcpy(p->w->hold + p->w->holdlen, buf, len);
	p->w->holdlen += len;
}


/*
 * Copy bytes that go to libxml2 before the stream root's '>' (and perhaps
 * some after it, cut off by xp_hdr_done), up to XP_HDR_MAX.
 */
static void
xp_hdr_copy(struct xparser *p, const char *buf, size_t len)
{
	if (p->hdrlen + len > XP_HDR_MAX) {
		free(p->hdr);
		p->hdr = NULL;
		p->hdrlen = 0;
		p->hdrstate = XH_NONE;
		return;
	}
	if (p->hdr == NULL)
		p->hdr = xmalloc(XP_HDR_MAX);
	memcpy(p->hdr + p->hdrlen, buf, len);
	p->hdrlen += len;
}

/* The stream root has started: keep the header up to its '>'. */
static void
xp_hdr_done(struct xparser *p)
{
	if (p->hdrend == 0 || p->hdrend > p->hdrlen) {
		free(p->hdr);
		p->hdr = NULL;
		p->hdrlen = 0;
		p->hdrstate = XH_NONE;
		return;
	}
	p->hdrlen = p->hdrend;
	p->hdr = xreallocarray(p->hdr, 1, p->hdrlen);
	p->hdrstate = XH_KEPT;
}

/*
 * Release what the parser holds while its stream is idle between stanzas:
 * the libxml2 context (most of a parser's memory: its input buffer,
 * dictionary and tables) and our own buffers. The next xparser_feed
 * builds a new context and feeds it the stream header kept from the
 * start of the stream, without calling back, and goes on as if nothing
 * had happened. Whitespace between stanzas that libxml2 still holds is
 * dropped (a keepalive has done its work). Returns 1 if released, 0 if
 * the stream is not at a point where it can be (inside a stanza or tag,
 * a header longer than XP_HDR_MAX, ended, failed, or released already).
 */
int
xparser_idle(struct xparser *p)
{
	const xmlChar	*c;

	if (p->busy || p->w == NULL || p->state != XP_RUN ||
	    p->error != 0 || p->w->lexerr != 0 || p->hdrstate != XH_KEPT ||
	    p->depth != 1 || p->w->stanza != NULL || p->w->holdlen != 0 ||
	    p->w->lex != XL_TEXT || p->w->ctxt->instate != XML_PARSER_CONTENT ||
	    p->w->ctxt->input == NULL)
		return (0);
	for (c = p->w->ctxt->input->cur; c < p->w->ctxt->input->end; c++)
		if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n')
			return (0);
	xmlFreeParserCtxt(p->w->ctxt);
	p->w->ctxt = NULL;
	xp_work_free(p);
	return (1);
}

/*
 * A new libxml2 context for a stream released by xparser_idle, fed the
 * kept header without calling back: it stands where the old one stood
 * after the root's start tag. Returns 0, or -1 after noting an error.
 */
static int
xp_revive(struct xparser *p)
{
	int	 rc;

	xp_work_new(p);
	p->w->ctxt = xp_ctxt_new(p);
	p->depth = 0;
	p->fed = p->hdrlen;
	p->replay = 1;
	p->inparse = 1;
	rc = xmlParseChunk(p->w->ctxt, p->hdr, (int)p->hdrlen, 0);
	p->inparse = 0;
	p->replay = 0;
	if (p->error == 0 && (rc != 0 || p->depth != 1))
		xp_fail(p, XP_NOT_WELL_FORMED, "stream header replay failed");
	if (p->error != 0)
		return (-1);
	p->mark = p->fed;
	return (0);
}

/* Whether callbacks from libxml2 are still wanted. */
int
xp_live(const struct xparser *p)
{
	return (p->state == XP_RUN && p->error == 0 && !p->restart);
}

/*
 * Note the first error and stop libxml2; xparser_feed reports it once the
 * chunk is done, outside libxml2.
 */
void
xp_fail(struct xparser *p, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[XP_ERRMSG];

	if (p->error != 0 || p->state != XP_RUN)
		return;
	p->error = code;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(p->errmsg);
	p->errmsg = xstrdup(msg);
	if (p->inparse)
		xmlStopParser(p->w->ctxt);
}

/* The offset in the stream libxml2 has parsed up to. */
size_t
xp_pos(const struct xparser *p)
{
	long	 n;

	n = xmlByteConsumed(p->w->ctxt);
	if (n < 0 || (size_t)n > p->fed)
		return (p->fed);
	return ((size_t)n);
}
