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
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/entities.h>
#include <libxml/xmlerror.h>

#include "log.h"
#include "xmalloc.h"
#include "xml/xml.h"

#define XP_STREAMS_NS	"http://etherx.jabber.org/streams"

#define XP_MAX_BYTES	10240	/* per stanza, Prosody's pre-auth default */
#define XP_MAX_DEPTH	32	/* counting the stream root */
#define XP_MAX_NODES	5000	/* elements and text nodes per stanza */
#define XP_MAX_ATTRS	64	/* per start tag, namespace declarations too */
#define XP_MAX_NSDECLS	16	/* namespace declarations per start tag */
#define XP_ATTR_SLACK	8	/* kept free on a stanza for the server */
#define XP_BUF_KEEP	4096	/* larger buffers are freed after use */

/*
 * Where the pre-scan (xp_scan) is in the input. Character data and CDATA
 * sections go to libxml2 as they come; a tag (and the XML declaration) is
 * held until its closing '>' has arrived and then handed over whole.
 */
enum xp_lex {
	XL_TEXT,		/* character data, or between stanzas */
	XL_CDATA,		/* in a CDATA section, until "]]>" */
	XL_LT,			/* after '<' */
	XL_BANG,		/* after "<!" */
	XL_PI,			/* in "<?...", until "?>" */
	XL_ETAG,		/* in an end tag */
	XL_STAG,		/* in a start tag, outside quotes */
	XL_QUOTE		/* in a quoted attribute value */
};

enum xp_state {
	XP_RUN,			/* parsing */
	XP_FAILED,		/* an error was reported; waits for reset */
	XP_ENDED		/* </stream:stream> seen; input ignored */
};

struct xparser {
	struct xparser_cb cb;
	void		*arg;
	xmlParserCtxtPtr ctxt;
	enum xp_state	 state;
	int		 busy;		/* inside xparser_feed */
	int		 inparse;	/* inside xmlParseChunk */
	int		 restart;	/* reset asked by a callback */
	int		 error;		/* XP_* to report, or 0 */
	char		 errmsg[160];

	int		 depth;		/* 1: the stream root */
	struct xnode	*stanza;	/* being built, or NULL */
	struct xnode	**stack;	/* its open elements by depth */
	size_t		 stackcap;
	size_t		 nodes;		/* in stanza */
	size_t		 nsbytes;	/* prefix declarations repeated in it */
	int		 lasttext;	/* the last event was text */

	size_t		 fed;		/* bytes given to ctxt so far */
	size_t		 mark;		/* where the stanza budget starts */

	enum xp_lex	 lex;		/* the pre-scan */
	char		 lexq;		/* the quote of XL_QUOTE */
	int		 lexn;		/* ']' or '?' just seen */
	int		 lexinname;	/* in a name inside a start tag */
	char		 lexword[6];	/* its first bytes */
	size_t		 lexwlen;	/* its length, up to 7 */
	size_t		 nattrs;	/* in the start tag, with xmlns */
	size_t		 nnsdecls;	/* namespace declarations in it */
	int		 lexerr;	/* XP_* found by the pre-scan, or 0 */
	char		 lexmsg[80];
	char		*hold;		/* an incomplete tag, not yet fed */
	size_t		 holdlen;
	size_t		 holdcap;
	char		*vbuf;		/* an attribute value, decoded */
	size_t		 vbufcap;

	size_t		 max_bytes;
	int		 max_depth;
	size_t		 max_nodes;
};

static void	xp_open(struct xparser *);
static void	xp_close(struct xparser *);
static int	xp_live(const struct xparser *);
static void	xp_fail(struct xparser *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static size_t	xp_pos(const struct xparser *);
static void	xp_lexfail(struct xparser *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	xp_scan_stag(struct xparser *, unsigned char);
static size_t	xp_scan(struct xparser *, const char *, size_t);
static int	xp_push(struct xparser *, const char *, size_t);
static void	xp_hold(struct xparser *, const char *, size_t);
static int	xp_tree_attrs(struct xparser *, int, const xmlChar **);
static size_t	xp_attr_value(struct xparser *, const xmlChar *,
		    const xmlChar *);
static int	xp_declared_here(const xmlChar *, int, const xmlChar **);
static int	xp_charge(struct xparser *, size_t);
static void	xp_start_stream(struct xparser *, const xmlChar *,
		    const xmlChar *, int, const xmlChar **, int,
		    const xmlChar **);
static void	xp_text(struct xparser *, const char *, size_t);
static void	xp_sax_start(void *, const xmlChar *, const xmlChar *,
		    const xmlChar *, int, const xmlChar **, int, int,
		    const xmlChar **);
static void	xp_sax_end(void *, const xmlChar *, const xmlChar *,
		    const xmlChar *);
static void	xp_sax_characters(void *, const xmlChar *, int);
static void	xp_sax_reference(void *, const xmlChar *);
static void	xp_sax_subset(void *, const xmlChar *, const xmlChar *,
		    const xmlChar *);
static void	xp_sax_entity_decl(void *, const xmlChar *, int,
		    const xmlChar *, const xmlChar *, xmlChar *);
static void	xp_sax_comment(void *, const xmlChar *);
static void	xp_sax_pi(void *, const xmlChar *, const xmlChar *);
static xmlEntityPtr xp_sax_get_entity(void *, const xmlChar *);
static xmlEntityPtr xp_sax_get_pentity(void *, const xmlChar *);
static void	xp_sax_serror(void *, xmlErrorPtr);

/* Create a libxml2 push context for a new stream. */
static void
xp_open(struct xparser *p)
{
	xmlSAXHandler	 sax;

	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = xp_sax_start;
	sax.endElementNs = xp_sax_end;
	sax.characters = xp_sax_characters;
	sax.ignorableWhitespace = xp_sax_characters;
	sax.cdataBlock = xp_sax_characters;
	sax.reference = xp_sax_reference;
	sax.internalSubset = xp_sax_subset;
	sax.externalSubset = xp_sax_subset;
	sax.entityDecl = xp_sax_entity_decl;
	sax.comment = xp_sax_comment;
	sax.processingInstruction = xp_sax_pi;
	sax.getEntity = xp_sax_get_entity;
	sax.getParameterEntity = xp_sax_get_pentity;
	sax.serror = xp_sax_serror;

	p->ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
	if (p->ctxt == NULL)
		fatalx("xp_open: xmlCreatePushParserCtxt failed");
	/*
	 * No XML_PARSE_NOENT (never substitute entities), no DTDLOAD or
	 * DTDVALID (never load a DTD), NONET for good measure; the stream is
	 * UTF-8 whatever a declaration says (RFC 6120 section 11.6).
	 */
	xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET | XML_PARSE_IGNORE_ENC);
	xmlSwitchEncoding(p->ctxt, XML_CHAR_ENCODING_UTF8);
	p->ctxt->replaceEntities = 0;
	p->ctxt->loadsubset = 0;
	p->ctxt->validate = 0;

	p->state = XP_RUN;
	p->restart = 0;
	p->error = 0;
	p->depth = 0;
	p->nodes = 0;
	p->lasttext = 0;
	p->fed = 0;
	p->mark = 0;
	p->lex = XL_TEXT;
	p->lexerr = 0;
	p->holdlen = 0;
}

/* Drop the libxml2 context and any half-built stanza. */
static void
xp_close(struct xparser *p)
{
	if (p->ctxt != NULL) {
		xmlFreeParserCtxt(p->ctxt);
		p->ctxt = NULL;
	}
	xnode_free(p->stanza);
	p->stanza = NULL;
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
	p->cb = *cb;
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
	free(p->stack);
	free(p->hold);
	free(p->vbuf);
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
			xmlStopParser(p->ctxt);
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
		p->max_bytes = max_bytes;
	if (max_depth > 0)
		p->max_depth = max_depth;
	if (max_nodes != 0)
		p->max_nodes = max_nodes;
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
	if (p->state == XP_RUN && len > 0) {
		safe = xp_scan(p, buf, len);
		if (safe > 0 && p->holdlen > 0) {
			/* The tag held back is complete now. */
			rc = xp_push(p, p->hold, p->holdlen);
			p->holdlen = 0;
			if (p->holdcap > XP_BUF_KEEP) {
				free(p->hold);
				p->hold = NULL;
				p->holdcap = 0;
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
			if (p->lexerr != 0)
				xp_fail(p, p->lexerr, "%s", p->lexmsg);
			else if (safe < len)
				xp_hold(p, buf + safe, len - safe);
		}
	}
	if (p->error != 0) {
		p->state = XP_FAILED;
		xnode_free(p->stanza);
		p->stanza = NULL;
		p->holdlen = 0;
		if (p->cb.error != NULL)
			p->cb.error(p->arg, p->error, p->errmsg);
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
			    p->max_bytes);
			return (-1);
		}
		n = p->max_bytes - used;
		if (n > len)
			n = len;
		if (n > INT_MAX)
			n = INT_MAX;
		p->fed += n;
		p->inparse = 1;
		rc = xmlParseChunk(p->ctxt, buf, (int)n, 0);
		p->inparse = 0;
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

	if (p->fed - p->mark + p->holdlen + len > p->max_bytes) {
		xp_fail(p, XP_POLICY, "stanza larger than %zu bytes",
		    p->max_bytes);
		return;
	}
	if (p->holdlen + len > p->holdcap) {
		cap = p->holdcap == 0 ? 256 : p->holdcap;
		while (cap < p->holdlen + len)
			cap *= 2;
		p->hold = xreallocarray(p->hold, 1, cap);
		p->holdcap = cap;
	}
	memcpy(p->hold + p->holdlen, buf, len);
	p->holdlen += len;
}

/* Note an error found by the pre-scan; reported once what precedes is fed. */
static void
xp_lexfail(struct xparser *p, int code, const char *fmt, ...)
{
	va_list	 ap;

	p->lexerr = code;
	va_start(ap, fmt);
	(void)vsnprintf(p->lexmsg, sizeof(p->lexmsg), fmt, ap);
	va_end(ap);
}

/* One byte of a start tag outside quoted values: count the attributes. */
static void
xp_scan_stag(struct xparser *p, unsigned char ch)
{
	switch (ch) {
	case '>':
		p->lex = XL_TEXT;
		break;
	case '\'':
	case '"':
		p->lex = XL_QUOTE;
		p->lexq = (char)ch;
		p->lexinname = 0;
		break;
	case '=':
		/* Each attribute has one '=' outside quotes. */
		p->lexinname = 0;
		if (++p->nattrs > XP_MAX_ATTRS) {
			xp_lexfail(p, XP_POLICY, "element with more than %d "
			    "attributes", XP_MAX_ATTRS);
			break;
		}
		if ((p->lexwlen == 5 && memcmp(p->lexword, "xmlns", 5) == 0) ||
		    (p->lexwlen >= 6 && memcmp(p->lexword, "xmlns:", 6) == 0)) {
			if (++p->nnsdecls > XP_MAX_NSDECLS)
				xp_lexfail(p, XP_POLICY, "element with more "
				    "than %d namespace declarations",
				    XP_MAX_NSDECLS);
		}
		break;
	case ' ':
	case '\t':
	case '\r':
	case '\n':
	case '/':
		p->lexinname = 0;
		break;
	default:
		if (!p->lexinname) {
			p->lexinname = 1;
			p->lexwlen = 0;
		}
		if (p->lexwlen < sizeof(p->lexword))
			p->lexword[p->lexwlen] = (char)ch;
		if (p->lexwlen <= sizeof(p->lexword))
			p->lexwlen++;
		break;
	}
}

/*
 * Scan len bytes for where tags begin and end, counting the attributes of
 * start tags. Returns how many of them may go to libxml2 now: up to the
 * end of the last byte outside a tag. Comments, DTDs and other markup
 * declarations are refused here, before libxml2 has buffered any of them;
 * processing instructions and the XML declaration are held like tags and
 * left to libxml2 to judge. On an error (p->lexerr) scanning stops.
 */
static size_t
xp_scan(struct xparser *p, const char *buf, size_t len)
{
	const unsigned char	*s = (const unsigned char *)buf, *q;
	size_t			 i, safe = 0;

	for (i = 0; i < len && p->lexerr == 0; i++) {
		switch (p->lex) {
		case XL_TEXT:
			if ((q = memchr(s + i, '<', len - i)) == NULL) {
				i = len - 1;
				break;
			}
			i = (size_t)(q - s);
			safe = i;
			p->lex = XL_LT;
			break;
		case XL_CDATA:
			if (s[i] == '>' && p->lexn >= 2)
				p->lex = XL_TEXT;
			p->lexn = s[i] != ']' ? 0 : p->lexn < 2 ?
			    p->lexn + 1 : 2;
			break;
		case XL_LT:
			if (s[i] == '/')
				p->lex = XL_ETAG;
			else if (s[i] == '!')
				p->lex = XL_BANG;
			else if (s[i] == '?') {
				p->lex = XL_PI;
				p->lexn = 0;
			} else {
				p->lex = XL_STAG;
				p->nattrs = p->nnsdecls = 0;
				p->lexinname = 0;
				xp_scan_stag(p, s[i]);
			}
			break;
		case XL_BANG:
			if (s[i] == '[') {
				p->lex = XL_CDATA;
				p->lexn = 0;
			} else if (s[i] == '-')
				xp_lexfail(p, XP_RESTRICTED_XML, "comment");
			else if (s[i] == 'D')
				xp_lexfail(p, XP_RESTRICTED_XML, "DTD");
			else
				xp_lexfail(p, XP_NOT_WELL_FORMED,
				    "markup declaration");
			break;
		case XL_PI:
			if (s[i] == '>' && p->lexn)
				p->lex = XL_TEXT;
			p->lexn = s[i] == '?';
			break;
		case XL_ETAG:
			if (s[i] == '>')
				p->lex = XL_TEXT;
			break;
		case XL_STAG:
			xp_scan_stag(p, s[i]);
			break;
		case XL_QUOTE:
			if ((q = memchr(s + i, p->lexq, len - i)) == NULL) {
				i = len - 1;
				break;
			}
			i = (size_t)(q - s);
			p->lex = XL_STAG;
			break;
		}
		if (p->lexerr == 0 &&
		    (p->lex == XL_TEXT || p->lex == XL_CDATA))
			safe = i + 1;
	}
	return (safe);
}

/* Whether callbacks from libxml2 are still wanted. */
static int
xp_live(const struct xparser *p)
{
	return (p->state == XP_RUN && p->error == 0 && !p->restart);
}

/*
 * Note the first error and stop libxml2; xparser_feed reports it once the
 * chunk is done, outside libxml2.
 */
static void
xp_fail(struct xparser *p, int code, const char *fmt, ...)
{
	va_list	 ap;

	if (p->error != 0 || p->state != XP_RUN)
		return;
	p->error = code;
	va_start(ap, fmt);
	(void)vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
	va_end(ap);
	if (p->inparse)
		xmlStopParser(p->ctxt);
}

/* The offset in the stream libxml2 has parsed up to. */
static size_t
xp_pos(const struct xparser *p)
{
	long	 n;

	n = xmlByteConsumed(p->ctxt);
	if (n < 0 || (size_t)n > p->fed)
		return (p->fed);
	return ((size_t)n);
}

/*
 * An attribute value from libxml2, decoded into p->vbuf (NUL-terminated,
 * valid until the next call); returns its length. Without entity
 * substitution libxml2 hands a '&' from &amp; or &#38; on as the text
 * "&#38;" (for a tree builder to parse again); since a bare '&' cannot
 * occur in a value, every '&' here starts that sequence, and we decode it.
 */
static size_t
xp_attr_value(struct xparser *p, const xmlChar *value, const xmlChar *end)
{
	const char	*s = (const char *)value;
	size_t		 len = (size_t)(end - value), i, j;

	if (len + 1 > p->vbufcap) {
		p->vbufcap = len + 1 > 256 ? len + 1 : 256;
		free(p->vbuf);
		p->vbuf = xmalloc(p->vbufcap);
	}
	for (i = j = 0; i < len; j++) {
		if (s[i] == '&' && len - i >= 5 &&
		    memcmp(s + i, "&#38;", 5) == 0) {
			p->vbuf[j] = '&';
			i += 5;
		} else
			p->vbuf[j] = s[i++];
	}
	p->vbuf[j] = '\0';
	return (j);
}

/* The stream root: check it and call stream_start. */
static void
xp_start_stream(struct xparser *p, const xmlChar *localname,
    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
    int nb_attributes, const xmlChar **attributes)
{
	const char	**list;
	const char	 *defns = NULL;
	const xmlChar	**a;
	char		 *name;
	int		  i;

	if (uri == NULL || strcmp((const char *)uri, XP_STREAMS_NS) != 0) {
		xp_fail(p, XP_INVALID_NS, "stream root in namespace %s",
		    uri != NULL ? (const char *)uri : "(none)");
		return;
	}
	if (strcmp((const char *)localname, "stream") != 0) {
		xp_fail(p, XP_BAD_FORMAT, "stream root is not <stream>");
		return;
	}
	for (i = 0; i < nb_namespaces; i++) {
		if (namespaces[2 * i] == NULL)
			defns = (const char *)namespaces[2 * i + 1];
	}
	list = xreallocarray(NULL, 2 * (size_t)nb_attributes + 1,
	    sizeof(*list));
	for (i = 0; i < nb_attributes; i++) {
		a = attributes + 5 * i;
		if (a[1] != NULL)
			xasprintf(&name, "%s:%s", a[1], a[0]);
		else
			name = xstrdup((const char *)a[0]);
		list[2 * i] = name;
		(void)xp_attr_value(p, a[3], a[4]);
		list[2 * i + 1] = xstrdup(p->vbuf);
	}
	list[2 * nb_attributes] = NULL;
	/* libxml2 calls us before it steps over the tag's closing '>'. */
	p->mark = xp_pos(p);
	if (p->ctxt->input != NULL && p->ctxt->input->cur[0] == '>' &&
	    p->mark < p->fed)
		p->mark++;
	if (p->cb.stream_start != NULL)
		p->cb.stream_start(p->arg, (const char *)localname,
		    (const char *)uri, defns, list);
	for (i = 0; i < 2 * nb_attributes; i++)
		free((char *)(uintptr_t)list[i]);
	free(list);
}

/*
 * Check an element's attributes as the tree keeps them and xnode_string
 * writes them out again: with its own xmlns, and a declaration for each
 * prefix its attributes use, wherever that was declared. The top element
 * of a stanza keeps XP_ATTR_SLACK free for what the server adds (from),
 * so that a stanza a follower forwards passes the leader's parser.
 * Returns 0, or -1 after reporting policy-violation.
 */
static int
xp_tree_attrs(struct xparser *p, int nb_attributes,
    const xmlChar **attributes)
{
	const xmlChar	*prefix;
	size_t		 max = XP_MAX_ATTRS, decls = 1;
	int		 i, j;

	if (p->depth == 2)
		max -= XP_ATTR_SLACK;
	for (i = 0; i < nb_attributes; i++) {
		prefix = attributes[5 * i + 1];
		if (prefix == NULL || attributes[5 * i + 2] == NULL ||
		    strcmp((const char *)prefix, "xml") == 0)
			continue;
		/* libxml2 keeps one copy of each name (its dictionary). */
		for (j = 0; j < i; j++)
			if (attributes[5 * j + 1] == prefix)
				break;
		if (j == i)
			decls++;
	}
	if (decls > XP_MAX_NSDECLS) {
		xp_fail(p, XP_POLICY, "element with more than %d namespace "
		    "declarations", XP_MAX_NSDECLS);
		return (-1);
	}
	if ((size_t)nb_attributes + decls > max) {
		xp_fail(p, XP_POLICY, "element with more than %zu attributes",
		    max);
		return (-1);
	}
	return (0);
}

/* Whether prefix is declared by the start tag itself (namespaces). */
static int
xp_declared_here(const xmlChar *prefix, int nb_namespaces,
    const xmlChar **namespaces)
{
	int	 k;

	for (k = 0; k < nb_namespaces; k++) {
		if (namespaces[2 * k] != NULL &&
		    strcmp((const char *)namespaces[2 * k],
		    (const char *)prefix) == 0)
			return (1);
	}
	return (0);
}

/*
 * Charge len bytes the tree has and the input had not (a repeated prefix
 * declaration) to the stanza: -1 after reporting policy-violation once
 * they pass its byte limit.
 */
static int
xp_charge(struct xparser *p, size_t len)
{
	p->nsbytes += len;
	if (p->nsbytes <= p->max_bytes)
		return (0);
	xp_fail(p, XP_POLICY, "namespace declarations repeated beyond %zu "
	    "bytes", p->max_bytes);
	return (-1);
}

/* SAX2: an element starts. */
static void
xp_sax_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
    int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
	struct xparser	*p = ctx;
	struct xnode	*n;
	const xmlChar	**a;
	const char	*ns, *nsuri;
	size_t		 vlen;
	int		 i, j;

	(void)prefix;
	(void)nb_defaulted;
	if (!xp_live(p))
		return;
	if (++p->depth > p->max_depth) {
		xp_fail(p, XP_POLICY, "elements nested deeper than %d",
		    p->max_depth);
		return;
	}
	if (p->depth == 1) {
		xp_start_stream(p, localname, uri, nb_namespaces, namespaces,
		    nb_attributes, attributes);
		return;
	}
	if (++p->nodes > p->max_nodes) {
		xp_fail(p, XP_POLICY, "stanza has more than %zu nodes",
		    p->max_nodes);
		return;
	}
	if (xp_tree_attrs(p, nb_attributes, attributes) == -1)
		return;
	/*
	 * No namespace at all is "", not NULL (which would inherit). A
	 * namespace name comes with '&' as "&#38;" like any value.
	 */
	ns = "";
	if (uri != NULL) {
		(void)xp_attr_value(p, uri, uri + strlen((const char *)uri));
		ns = p->vbuf;
	}
	if (p->depth == 2) {
		n = p->stanza = xnode_new((const char *)localname, ns);
		p->nsbytes = 0;
	} else
		n = xnode_add(p->stack[p->depth - 3], (const char *)localname,
		    ns);
	if ((size_t)p->depth - 1 > p->stackcap) {
		p->stackcap = (size_t)p->max_depth;
		p->stack = xreallocarray(p->stack, p->stackcap,
		    sizeof(*p->stack));
	}
	p->stack[p->depth - 2] = n;
	p->lasttext = 0;

	/*
	 * libxml2 has refused duplicate attributes, so they are appended
	 * without a search. Element names are kept with their namespace
	 * URI, so prefix declarations are dropped, except those a prefixed
	 * attribute needs: it is declared again on its element, once. A
	 * declaration copied from an ancestor is bytes the input did not
	 * have (one long URI on a thousand leaves made a 250 KB stanza a
	 * 121 MB tree): they count against the stanza's budget, so that a
	 * tree is at most about twice its input.
	 */
	for (i = 0; i < nb_attributes; i++) {
		a = attributes + 5 * i;
		if (a[1] == NULL) {
			vlen = xp_attr_value(p, a[3], a[4]);
			xnode_push_attr(n, NULL, (const char *)a[0], p->vbuf,
			    vlen);
			continue;
		}
		if (strcmp((const char *)a[1], "xml") != 0 && a[2] != NULL) {
			/* libxml2 keeps one copy of each name (its dict). */
			for (j = 0; j < i; j++)
				if (attributes[5 * j + 1] == a[1] &&
				    attributes[5 * j + 2] != NULL)
					break;
			nsuri = (const char *)a[2];
			if (j == i) {
				vlen = xp_attr_value(p, a[2],
				    a[2] + strlen(nsuri));
				if (!xp_declared_here(a[1], nb_namespaces,
				    namespaces) && xp_charge(p, vlen +
				    strlen((const char *)a[1]) + 10) == -1)
					return;
				xnode_push_attr(n, "xmlns", (const char *)a[1],
				    p->vbuf, vlen);
			}
		}
		vlen = xp_attr_value(p, a[3], a[4]);
		xnode_push_attr(n, (const char *)a[1], (const char *)a[0],
		    p->vbuf, vlen);
	}
}

/* SAX2: an element ends. */
static void
xp_sax_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri)
{
	struct xparser	*p = ctx;
	struct xnode	*n;

	(void)localname;
	(void)prefix;
	(void)uri;
	if (!xp_live(p))
		return;
	p->lasttext = 0;
	if (p->depth-- == 1) {
		/* Nothing after </stream:stream> is of interest. */
		p->state = XP_ENDED;
		xmlStopParser(p->ctxt);
		if (p->cb.stream_end != NULL)
			p->cb.stream_end(p->arg);
		return;
	}
	if (p->depth != 1)
		return;
	n = p->stanza;
	p->stanza = NULL;
	p->mark = xp_pos(p);
	p->nodes = 0;		/* the node limit is per stanza */
	if (p->vbufcap > XP_BUF_KEEP) {
		free(p->vbuf);
		p->vbuf = NULL;
		p->vbufcap = 0;
	}
	if (p->cb.stanza != NULL)
		p->cb.stanza(p->arg, n);
	else
		xnode_free(n);
}

/* Text, from characters, ignorable whitespace, references or CDATA. */
static void
xp_text(struct xparser *p, const char *s, size_t len)
{
	size_t	 i;

	if (!xp_live(p) || len == 0)
		return;
	if (p->depth == 1) {
		/* Whitespace keepalives between stanzas; nothing else. */
		for (i = 0; i < len; i++) {
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
			    s[i] != '\n') {
				xp_fail(p, XP_NOT_WELL_FORMED,
				    "text at stream level");
				return;
			}
		}
		p->mark = xp_pos(p);
		return;
	}
	if (p->depth < 2)
		return;
	if (!p->lasttext && ++p->nodes > p->max_nodes) {
		xp_fail(p, XP_POLICY, "stanza has more than %zu nodes",
		    p->max_nodes);
		return;
	}
	xnode_add_text(p->stack[p->depth - 2], s, len);
	p->lasttext = 1;
}

/* SAX2: character data (also whitespace and CDATA sections). */
static void
xp_sax_characters(void *ctx, const xmlChar *s, int len)
{
	if (len > 0)
		xp_text(ctx, (const char *)s, (size_t)len);
}

/* SAX2: a reference to an entity we do not have; cannot happen. */
static void
xp_sax_reference(void *ctx, const xmlChar *name)
{
	xp_fail(ctx, XP_RESTRICTED_XML, "entity reference &%s;",
	    (const char *)name);
}

/* SAX2: a DOCTYPE (internal or external subset). */
static void
xp_sax_subset(void *ctx, const xmlChar *name, const xmlChar *eid,
    const xmlChar *sid)
{
	(void)name;
	(void)eid;
	(void)sid;
	xp_fail(ctx, XP_RESTRICTED_XML, "DTD");
}

/* SAX2: an entity declaration. */
static void
xp_sax_entity_decl(void *ctx, const xmlChar *name, int type,
    const xmlChar *pid, const xmlChar *sid, xmlChar *content)
{
	(void)name;
	(void)type;
	(void)pid;
	(void)sid;
	(void)content;
	xp_fail(ctx, XP_RESTRICTED_XML, "entity declaration");
}

/* SAX2: a comment. */
static void
xp_sax_comment(void *ctx, const xmlChar *text)
{
	(void)text;
	xp_fail(ctx, XP_RESTRICTED_XML, "comment");
}

/* SAX2: a processing instruction (the XML declaration is not one). */
static void
xp_sax_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	(void)target;
	(void)data;
	xp_fail(ctx, XP_RESTRICTED_XML, "processing instruction");
}

/* SAX2: look an entity up; only the five predefined ones exist. */
static xmlEntityPtr
xp_sax_get_entity(void *ctx, const xmlChar *name)
{
	(void)ctx;
	return (xmlGetPredefinedEntity(name));
}

/* SAX2: look a parameter entity up; there are none. */
static xmlEntityPtr
xp_sax_get_pentity(void *ctx, const xmlChar *name)
{
	(void)ctx;
	(void)name;
	return (NULL);
}

/* libxml2 reports an error: anything above a warning ends the stream. */
static void
xp_sax_serror(void *ctx, xmlErrorPtr e)
{
	struct xparser	*p = ctx;
	const char	*msg;
	size_t		 len;

	if (e == NULL || e->level < XML_ERR_ERROR)
		return;
	msg = e->message != NULL ? e->message : "error";
	len = strcspn(msg, "\n");
	if (len > 100)
		len = 100;
	/*
	 * RFC 6120 4.9.3.18: an entity reference is restricted XML. Bad UTF-8
	 * stays not-well-formed: libxml2 reports it under different codes
	 * depending on how the bytes were split, and one stream must get one
	 * answer whatever the chunking.
	 */
	if (e->code == XML_ERR_UNDECLARED_ENTITY ||
	    e->code == XML_WAR_UNDECLARED_ENTITY)
		xp_fail(p, XP_RESTRICTED_XML, "libxml2: %.*s (%d)", (int)len,
		    msg, e->code);
	else
		xp_fail(p, XP_NOT_WELL_FORMED, "libxml2: %.*s (%d)", (int)len,
		    msg, e->code);
}
