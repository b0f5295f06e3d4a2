/*
 * A small XML element tree for XMPP stanzas, and the libxml2-based push
 * parser that builds it, one stream at a time.
 *
 * Elements carry a local name, a namespace URI (inherited from the parent
 * when not declared), attributes (name/value, names as written, e.g.
 * "xml:lang") and children that are elements or text. Serialisation is
 * ours: names and namespaces are written from the tree, text and
 * attribute values escaped; input bytes are never copied out raw.
 *
 * tree.c is the tree and its serialiser; the parser is parser.c (life
 * cycle, feeding libxml2), scan.c (the pre-scan of tags) and sax.c (the
 * SAX2 callbacks, limits, building trees), sharing xml_int.h.
 */
#ifndef XML_H
#define XML_H

#include <stddef.h>

struct xnode;

/* A new element, name and ns copied (ns NULL: inherit); xnode_free. */
struct xnode	*xnode_new(const char *, const char *);
/* Free a node and its subtree, unlinked from its parent; NULL is ok. */
void		 xnode_free(struct xnode *);
/* A detached deep copy the caller frees, with n's own namespace. */
struct xnode	*xnode_copy(const struct xnode *);
/* The element's local name, borrowed. */
const char	*xnode_name(const struct xnode *);
/* The element's own namespace (NULL if inherited), borrowed. */
const char	*xnode_ns(const struct xnode *);
/* Set (copied) or clear (NULL) the element's namespace. */
void		 xnode_set_ns(struct xnode *, const char *);
/* An attribute's value, borrowed, or NULL; "xmlns" reads the ns. */
const char	*xnode_attr(const struct xnode *, const char *);
/* Set an attribute to a copy of value (NULL deletes; "xmlns": ns). */
void		 xnode_set_attr(struct xnode *, const char *, const char *);
/* Remove an attribute if present, keeping the others' order. */
void		 xnode_del_attr(struct xnode *, const char *);
/* Append prefix:name with vlen bytes of value (copied), unchecked. */
void		 xnode_push_attr(struct xnode *, const char *, const char *,
		    const char *, size_t);
/* A new element appended to parent, which owns it; borrowed. */
struct xnode	*xnode_add(struct xnode *, const char *, const char *);
/* Append a detached tree to parent, which takes ownership of it. */
void		 xnode_append(struct xnode *, struct xnode *);
/* Append len bytes of text (copied), merged into last text child. */
void		 xnode_add_text(struct xnode *, const char *, size_t);
/* The first child element name in ns (NULL: any), borrowed, or NULL. */
struct xnode	*xnode_child(const struct xnode *, const char *, const char *);
/* The first child element (text skipped), borrowed, or NULL. */
struct xnode	*xnode_first(const struct xnode *);
/* The next sibling element (text skipped), borrowed, or NULL. */
struct xnode	*xnode_next(const struct xnode *);
/* The direct text children joined, for the caller to free. */
char		*xnode_text(const struct xnode *);
/* The subtree serialised, for the caller to free; *len its length. */
char		*xnode_string(const struct xnode *, size_t *);
/* The number of nodes (elements and text) in the subtree. */
size_t		 xnode_count(const struct xnode *);

/* Stream errors the parser reports (RFC 6120 section 4.9.3). */
#define XP_NOT_WELL_FORMED	1	/* not-well-formed */
#define XP_RESTRICTED_XML	2	/* restricted-xml: DTD, comment, PI */
#define XP_POLICY		3	/* policy-violation: a limit */
#define XP_INVALID_NS		4	/* invalid-namespace */
#define XP_BAD_FORMAT		5	/* bad-format */

struct xparser;

/*
 * What the parser calls. stream_start gets the root element's local name,
 * namespace URI, the default namespace it declared (xmlns, or NULL) and
 * its attributes as a NULL-terminated name, value, name, value... list
 * (borrowed for the call). stanza gets each complete child of the root,
 * which the callee owns and frees. stream_end: </stream:stream>. error:
 * one of XP_*, with a short text for logs; the parser stops after it and
 * feeds no further callbacks until reset.
 */
struct xparser_cb {
	void	(*stream_start)(void *, const char *, const char *,
		    const char *, const char **);
	void	(*stanza)(void *, struct xnode *);
	void	(*stream_end)(void *);
	void	(*error)(void *, int, const char *);
};

/* A new parser calling cb (copied) with arg; xparser_free. */
struct xparser	*xparser_new(const struct xparser_cb *, void *);
/* Free the parser (NULL is ok); never from inside its callbacks. */
void		 xparser_free(struct xparser *);
/* Parse len bytes (borrowed), calling back; 0, or -1 after error. */
int		 xparser_feed(struct xparser *, const char *, size_t);
/* Start a new stream; from a callback, the rest of the chunk goes. */
void		 xparser_reset(struct xparser *);
/* Free its buffers while idle between stanzas; 1 if it did. */
int		 xparser_idle(struct xparser *);
/* Set bytes and nodes per stanza and depth; a 0 keeps that one. */
void		 xparser_set_limits(struct xparser *, size_t, int, size_t);

#endif /* XML_H */
