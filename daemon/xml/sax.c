/*
 * The stream parser's SAX2 callbacks: libxml2 calls them from
 * xmlParseChunk. They check the stream root, count depth, nodes and
 * attributes per stanza against the limits, build the xnode tree of each
 * stanza and hand it to the stanza callback, and stop the stream on
 * anything XMPP forbids (RFC 6120 section 11.1): DTDs, entity
 * declarations, comments and processing instructions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/entities.h>
#include <libxml/xmlerror.h>

#include "xmalloc.h"
#include "xml/xml.h"
#include "xml/xml_int.h"

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

/* Fill sax (zeroed by the caller) with the parser's SAX2 callbacks. */
void
xp_sax_init(xmlSAXHandler *sax)
{
	sax->initialized = XML_SAX2_MAGIC;
	sax->startElementNs = xp_sax_start;
	sax->endElementNs = xp_sax_end;
	sax->characters = xp_sax_characters;
	sax->ignorableWhitespace = xp_sax_characters;
	sax->cdataBlock = xp_sax_characters;
	sax->reference = xp_sax_reference;
	sax->internalSubset = xp_sax_subset;
	sax->externalSubset = xp_sax_subset;
	sax->entityDecl = xp_sax_entity_decl;
	sax->comment = xp_sax_comment;
	sax->processingInstruction = xp_sax_pi;
	sax->getEntity = xp_sax_get_entity;
	sax->getParameterEntity = xp_sax_get_pentity;
	sax->serror = xp_sax_serror;
}

/*
 * An attribute value from libxml2, decoded into p->w->vbuf (NUL-terminated,
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

	if (len + 1 > p->w->vbufcap) {
		p->w->vbufcap = len + 1 > 256 ? len + 1 : 256;
		free(p->w->vbuf);
		p->w->vbuf = xmalloc(p->w->vbufcap);
	}
	for (i = j = 0; i < len; j++) {
		if (s[i] == '&' && len - i >= 5 &&
		    memcmp(s + i, "&#38;", 5) == 0) {
			p->w->vbuf[j] = '&';
			i += 5;
		} else
			p->w->vbuf[j] = s[i++];
	}
	p->w->vbuf[j] = '\0';
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
		list[2 * i + 1] = xstrdup(p->w->vbuf);
	}
	list[2 * nb_attributes] = NULL;
	/* libxml2 calls us before it steps over the tag's closing '>'. */
	p->mark = xp_pos(p);
	if (p->w->ctxt->input != NULL && p->w->ctxt->input->cur[0] == '>' &&
	    p->mark < p->fed)
		p->mark++;
	p->hdrend = p->mark;
	if (p->cb->stream_start != NULL)
		p->cb->stream_start(p->arg, (const char *)localname,
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
	p->w->nsbytes += len;
	if (p->w->nsbytes <= p->max_bytes)
		return (0);
	xp_fail(p, XP_POLICY, "namespace declarations repeated beyond %zu "
	    "bytes", (size_t)p->max_bytes);
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
		if (!p->replay)
			xp_start_stream(p, localname, uri, nb_namespaces,
			    namespaces, nb_attributes, attributes);
		return;
	}
	if (++p->w->nodes > p->max_nodes) {
		xp_fail(p, XP_POLICY, "stanza has more than %zu nodes",
		    (size_t)p->max_nodes);
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
		ns = p->w->vbuf;
	}
	if (p->depth == 2) {
		n = p->w->stanza = xnode_new((const char *)localname, ns);
		p->w->nsbytes = 0;
	} else
		n = xnode_add(p->w->stack[p->depth - 3], (const char *)localname,
		    ns);
	if ((size_t)p->depth - 1 > p->w->stackcap) {
		p->w->stackcap = (size_t)p->max_depth;
		p->w->stack = xreallocarray(p->w->stack, p->w->stackcap,
		    sizeof(*p->w->stack));
	}
	p->w->stack[p->depth - 2] = n;
	p->w->lasttext = 0;

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
			xnode_push_attr(n, NULL, (const char *)a[0], p->w->vbuf,
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
				    p->w->vbuf, vlen);
			}
		}
		vlen = xp_attr_value(p, a[3], a[4]);
		xnode_push_attr(n, (const char *)a[1], (const char *)a[0],
		    p->w->vbuf, vlen);
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
	p->w->lasttext = 0;
	if (p->depth-- == 1) {
		/* Nothing after </stream:stream> is of interest. */
		p->state = XP_ENDED;
		xmlStopParser(p->w->ctxt);
		if (p->cb->stream_end != NULL)
			p->cb->stream_end(p->arg);
		return;
	}
	if (p->depth != 1)
		return;
	n = p->w->stanza;
	p->w->stanza = NULL;
	p->mark = xp_pos(p);
	p->w->nodes = 0;		/* the node limit is per stanza */
	if (p->w->vbufcap > XP_BUF_KEEP) {
		free(p->w->vbuf);
		p->w->vbuf = NULL;
		p->w->vbufcap = 0;
	}
	if (p->cb->stanza != NULL)
		p->cb->stanza(p->arg, n);
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
	if (!p->w->lasttext && ++p->w->nodes > p->max_nodes) {
		xp_fail(p, XP_POLICY, "stanza has more than %zu nodes",
		    (size_t)p->max_nodes);
		return;
	}
	xnode_add_text(p->w->stack[p->depth - 2], s, len);
	p->w->lasttext = 1;
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
