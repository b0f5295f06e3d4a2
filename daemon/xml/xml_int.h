/*
 * Private to the XMPP stream parser (daemon/xml/parser.c, scan.c, sax.c):
 * the parser's state and the few functions its files share. Nothing
 * outside daemon/xml/ includes this; xml/xml.h is the public interface.
 */
#ifndef XML_INT_H
#define XML_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>

#define XP_STREAMS_NS	"http://etherx.jabber.org/streams"

#define XP_MAX_BYTES	10240	/* per stanza, Prosody's pre-auth default */
#define XP_MAX_DEPTH	32	/* counting the stream root */
#define XP_MAX_NODES	5000	/* elements and text nodes per stanza */
#define XP_MAX_ATTRS	64	/* per start tag, namespace declarations too */
#define XP_MAX_NSDECLS	16	/* namespace declarations per start tag */
#define XP_ATTR_SLACK	8	/* kept free on a stanza for the server */
#define XP_BUF_KEEP	4096	/* larger buffers are freed after use */
#define XP_ERRMSG	160	/* bytes of an error's text, with the NUL */
#define XP_HDR_MAX	1024	/* a stream header kept for xparser_idle */

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

/* Whether the stream header is kept (hdr) for rebuilding ctxt. */
enum xp_hdr {
	XH_COPY,		/* before the root's '>': being copied */
	XH_KEPT,		/* hdr holds the header, hdrlen bytes */
	XH_NONE			/* longer than XP_HDR_MAX: ctxt is never
				   released */
};

enum xp_state {
	XP_RUN,			/* parsing */
	XP_FAILED,		/* an error was reported; waits for reset */
	XP_ENDED		/* </stream:stream> seen; input ignored */
};

/*
 * What a parser needs only while it has a libxml2 context: the context,
 * the stanza being built, the pre-scan and the buffers. xparser_idle
 * frees all of it between stanzas; the next input brings it back.
 */
struct xp_work {
	xmlParserCtxtPtr ctxt;
	struct xnode	*stanza;	/* being built, or NULL */
	struct xnode	**stack;	/* its open elements by depth */
	size_t		 stackcap;
	size_t		 nodes;		/* in stanza */
	size_t		 nsbytes;	/* prefix declarations repeated in it */
	int		 lasttext;	/* the last event was text */

	enum xp_lex	 lex;		/* the pre-scan */
	char		 lexq;		/* the quote of XL_QUOTE */
	char		 lexword[6];	/* its first bytes */
	int		 lexn;		/* ']' or '?' just seen */
	int		 lexinname;	/* in a name inside a start tag */
	size_t		 lexwlen;	/* its length, up to 7 */
	size_t		 nattrs;	/* in the start tag, with xmlns */
	size_t		 nnsdecls;	/* namespace declarations in it */
	int		 lexerr;	/* XP_* found by the pre-scan, or 0 */
	char		*lexmsg;	/* its text (allocated), or NULL */
	char		*hold;		/* an incomplete tag, not yet fed */
	size_t		 holdlen;
	size_t		 holdcap;
	char		*vbuf;		/* an attribute value, decoded */
	size_t		 vbufcap;
};

/*
 * A parser: what it keeps for the whole stream (small, as an idle stream
 * keeps nothing else) and its work state (w) while parsing.
 */
struct xparser {
	const struct xparser_cb *cb;	/* the caller's, borrowed */
	void		*arg;
	struct xp_work	*w;		/* NULL while idle */
	char		*errmsg;	/* the error's text (allocated) */
	char		*hdr;		/* the stream's bytes up to the root's
					   '>', to rebuild ctxt from */
	size_t		 fed;		/* bytes given to ctxt so far */
	size_t		 mark;		/* where the stanza budget starts */
	size_t		 hdrend;	/* offset just after the root's '>' */
	uint32_t	 max_bytes;
	uint32_t	 max_nodes;
	uint16_t	 hdrlen;
	uint16_t	 max_depth;
	int16_t		 depth;		/* 1: the stream root */
	uint8_t		 error;		/* XP_* to report, or 0 */
	uint8_t		 state;		/* XP_* (enum xp_state) */
	uint8_t		 hdrstate;	/* XH_* */
	unsigned	 busy:1;	/* inside xparser_feed */
	unsigned	 inparse:1;	/* inside xmlParseChunk */
	unsigned	 restart:1;	/* reset asked by a callback */
	unsigned	 replay:1;	/* feeding hdr again: no callbacks */
};

/* parser.c */
/* Whether callbacks from libxml2 are still wanted. */
int	 xp_live(const struct xparser *);
/* Note the first error (code XP_*) and stop libxml2. */
void	 xp_fail(struct xparser *, int, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));
/* The offset in the stream libxml2 has parsed up to. */
size_t	 xp_pos(const struct xparser *);

/* scan.c */
/* Scan buf for tag boundaries; returns how many bytes libxml2 may have. */
size_t	 xp_scan(struct xparser *, const char *, size_t);

/* sax.c */
/* Fill sax (zeroed by the caller) with the parser's SAX2 callbacks. */
void	 xp_sax_init(xmlSAXHandler *);

#endif /* XML_INT_H */
