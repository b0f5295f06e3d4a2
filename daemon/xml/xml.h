/*
 * A small XML element tree for XMPP stanzas, and the libxml2-based push
 * parser that builds it, one stream at a time.
 *
 * Elements carry a local name, a namespace URI (inherited from the parent
 * when not declared), attributes (name/value, names as written, e.g.
 * "xml:lang") and children that are elements or text. Serialisation is
 * ours: names and namespaces are written from the tree, text and
 * attribute values escaped; input bytes are never copied out raw.
 */
#ifndef XML_H
#define XML_H

#include <stddef.h>

struct xnode;

struct xnode	*xnode_new(const char *, const char *);
void		 xnode_free(struct xnode *);
struct xnode	*xnode_copy(const struct xnode *);
const char	*xnode_name(const struct xnode *);
const char	*xnode_ns(const struct xnode *);
void		 xnode_set_ns(struct xnode *, const char *);
const char	*xnode_attr(const struct xnode *, const char *);
void		 xnode_set_attr(struct xnode *, const char *, const char *);
void		 xnode_del_attr(struct xnode *, const char *);
void		 xnode_push_attr(struct xnode *, const char *, const char *,
		    const char *, size_t);
struct xnode	*xnode_add(struct xnode *, const char *, const char *);
void		 xnode_append(struct xnode *, struct xnode *);
void		 xnode_add_text(struct xnode *, const char *, size_t);
struct xnode	*xnode_child(const struct xnode *, const char *, const char *);
struct xnode	*xnode_first(const struct xnode *);
struct xnode	*xnode_next(const struct xnode *);
char		*xnode_text(const struct xnode *);
char		*xnode_string(const struct xnode *, size_t *);
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

struct xparser	*xparser_new(const struct xparser_cb *, void *);
void		 xparser_free(struct xparser *);
int		 xparser_feed(struct xparser *, const char *, size_t);
void		 xparser_reset(struct xparser *);
void		 xparser_set_limits(struct xparser *, size_t, int, size_t);

#endif /* XML_H */
