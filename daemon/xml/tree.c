/*
 * The xnode tree: elements with a local name, a namespace URI, attributes
 * in insertion order and children (elements and text), and its serialiser
 * with our own escaping.
 *
 * A NULL namespace means "inherit": the element is in its parent's
 * namespace, and when it is the top of a serialisation it carries no xmlns
 * at all, so that it takes the default namespace of the stream it is
 * written into (a <message/> with a NULL namespace written to a
 * jabber:client stream is in jabber:client). An empty namespace ("") means
 * "no namespace" and is written as xmlns="" where needed.
 *
 * Copying, counting, freeing and writing recurse over the tree; trees from
 * the parser are no deeper than its depth limit.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"
#include "xml/xml.h"

/* name and value share one allocation, which starts at name. */
struct xattr {
	char		*name;
	char		*value;
	size_t		 vlen;
};

/* An element (name != NULL) or a text node (name == NULL). */
struct xnode {
	TAILQ_ENTRY(xnode)	 entry;
	struct xnode		*parent;
	char			*name;
	char			*ns;
	struct xattr		*attrs;
	unsigned int		 nattrs;
	unsigned int		 attrcap;
	TAILQ_HEAD(xnode_children, xnode) children;
	char			*text;
	size_t			 textlen;
	size_t			 textcap;
};

/* An output buffer that grows. */
struct xbuf {
	char		*buf;
	size_t		 len;
	size_t		 cap;
};

/*
 * The prefix declarations in effect in the output, innermost last: each
 * entry is an "xmlns:prefix" attribute of an enclosing element, borrowed.
 */
struct xscope {
	const struct xattr	**decls;
	size_t			  n;
	size_t			  cap;
};

static struct xnode	*xnode_alloc(void);
static struct xattr	*xnode_find_attr(const struct xnode *, const char *);
static void		 xattr_fill(struct xattr *, const char *, const char *,
			    const char *, size_t);
static struct xattr	*xnode_new_attr(struct xnode *);
static void		 xnode_add_child(struct xnode *, struct xnode *);
static void		 xbuf_grow(struct xbuf *, size_t);
static void		 xbuf_add(struct xbuf *, const char *, size_t);
static void		 xbuf_adds(struct xbuf *, const char *);
static void		 xbuf_escape(struct xbuf *, const char *, size_t,
			    int);
static size_t		 xml_utf8_char(const unsigned char *, size_t,
			    uint32_t *);
static int		 xscope_bound(const struct xscope *,
			    const struct xattr *);
static void		 xnode_write(struct xbuf *, struct xscope *,
			    const struct xnode *, const char *);

/* Allocate an empty node. */
static struct xnode *
xnode_alloc(void)
{
	struct xnode	*n;

	n = xcalloc(1, sizeof(*n));
	TAILQ_INIT(&n->children);
	return (n);
}

/* A new element with local name and namespace (NULL: inherit). */
struct xnode *
xnode_new(const char *name, const char *ns)
{
	struct xnode	*n;

	n = xnode_alloc();
	n->name = xstrdup(name);
	n->ns = ns != NULL ? xstrdup(ns) : NULL;
	return (n);
}

/* Free a node and its subtree, first unlinking it from its parent. */
void
xnode_free(struct xnode *n)
{
	struct xnode	*c;
	unsigned int	 i;

	if (n == NULL)
		return;
	if (n->parent != NULL)
		TAILQ_REMOVE(&n->parent->children, n, entry);
	while ((c = TAILQ_FIRST(&n->children)) != NULL) {
		TAILQ_REMOVE(&n->children, c, entry);
		c->parent = NULL;
		xnode_free(c);
	}
	for (i = 0; i < n->nattrs; i++) {
		free(n->attrs[i].name);
	}
	free(n->attrs);
	free(n->name);
	free(n->ns);
	free(n->text);
	free(n);
}

/*
 * A deep copy of n, detached. The copy keeps n's own namespace: if that
 * is NULL (inherited), the copy inherits from wherever it is put.
 */
struct xnode *
xnode_copy(const struct xnode *n)
{
	struct xnode	*c, *k;
	unsigned int	 i;

	c = xnode_alloc();
	if (n->name == NULL) {
		c->textlen = c->textcap = n->textlen;
		c->text = xmalloc(n->textlen + 1);
		memcpy(c->text, n->text, n->textlen);
		c->text[n->textlen] = '\0';
		return (c);
	}
	c->name = xstrdup(n->name);
	c->ns = n->ns != NULL ? xstrdup(n->ns) : NULL;
	if (n->nattrs > 0) {
		c->attrs = xreallocarray(NULL, n->nattrs, sizeof(*c->attrs));
		c->nattrs = c->attrcap = n->nattrs;
		for (i = 0; i < n->nattrs; i++)
			xattr_fill(&c->attrs[i], NULL, n->attrs[i].name,
			    n->attrs[i].value, n->attrs[i].vlen);
	}
	TAILQ_FOREACH(k, &n->children, entry)
		xnode_add_child(c, xnode_copy(k));
	return (c);
}

/* The element's local name, borrowed. */
const char *
xnode_name(const struct xnode *n)
{
	return (n->name);
}

/* The element's own namespace (NULL if inherited), borrowed. */
const char *
xnode_ns(const struct xnode *n)
{
	return (n->ns);
}

/* Set or clear (NULL) the element's namespace. */
void
xnode_set_ns(struct xnode *n, const char *ns)
{
	char	*old = n->ns;

	n->ns = ns != NULL ? xstrdup(ns) : NULL;
	free(old);
}

/*
 * Make a's name ("prefix:name", or name if prefix is NULL) and its value
 * (vlen bytes, NUL-terminated here) in one new allocation.
 */
static void
xattr_fill(struct xattr *a, const char *prefix, const char *name,
    const char *value, size_t vlen)
{
	size_t	 plen = prefix != NULL ? strlen(prefix) + 1 : 0;
	size_t	 nlen = strlen(name);
	char	*s;

	if (vlen > SIZE_MAX - plen - nlen - 2)
		fatalx("xattr_fill: too long");
	s = xmalloc(plen + nlen + 1 + vlen + 1);
	if (prefix != NULL) {
		memcpy(s, prefix, plen - 1);
		s[plen - 1] = ':';
	}
	memcpy(s + plen, name, nlen + 1);
	a->name = s;
	a->value = s + plen + nlen + 1;
	memcpy(a->value, value, vlen);
	a->value[vlen] = '\0';
	a->vlen = vlen;
}

/* Room for one more attribute at the end; its fields are unset. */
static struct xattr *
xnode_new_attr(struct xnode *n)
{
	if (n->nattrs == n->attrcap) {
		n->attrcap = n->attrcap == 0 ? 4 : n->attrcap * 2;
		n->attrs = xreallocarray(n->attrs, n->attrcap,
		    sizeof(*n->attrs));
	}
	return (&n->attrs[n->nattrs++]);
}

/* The attribute called name, or NULL. */
static struct xattr *
xnode_find_attr(const struct xnode *n, const char *name)
{
	unsigned int	 i;

	for (i = 0; i < n->nattrs; i++) {
		if (strcmp(n->attrs[i].name, name) == 0)
			return (&n->attrs[i]);
	}
	return (NULL);
}

/*
 * The value of attribute name, borrowed, or NULL. "xmlns" is not an
 * attribute: it reads the element's own namespace.
 */
const char *
xnode_attr(const struct xnode *n, const char *name)
{
	struct xattr	*a;

	if (strcmp(name, "xmlns") == 0)
		return (n->ns);
	if ((a = xnode_find_attr(n, name)) == NULL)
		return (NULL);
	return (a->value);
}

/*
 * Set attribute name to a copy of value, replacing an old value in place;
 * a NULL value deletes. "xmlns" sets the element's namespace instead.
 */
void
xnode_set_attr(struct xnode *n, const char *name, const char *value)
{
	struct xattr	*a;
	char		*old;

	if (value == NULL) {
		xnode_del_attr(n, name);
		return;
	}
	if (strcmp(name, "xmlns") == 0) {
		xnode_set_ns(n, value);
		return;
	}
	if ((a = xnode_find_attr(n, name)) != NULL) {
		old = a->name;
		xattr_fill(a, NULL, old, value, strlen(value));
		free(old);
		return;
	}
	xattr_fill(xnode_new_attr(n), NULL, name, value, strlen(value));
}

/*
 * Append attribute prefix:name (name alone if prefix is NULL) with the
 * vlen bytes of value, without looking for an old one: for the parser,
 * whose input libxml2 has checked for duplicates. The name must not be
 * "xmlns".
 */
void
xnode_push_attr(struct xnode *n, const char *prefix, const char *name,
    const char *value, size_t vlen)
{
	xattr_fill(xnode_new_attr(n), prefix, name, value, vlen);
}

/* Remove attribute name if present, keeping the order of the others. */
void
xnode_del_attr(struct xnode *n, const char *name)
{
	struct xattr	*a;
	size_t		 i;

	if (strcmp(name, "xmlns") == 0) {
		xnode_set_ns(n, NULL);
		return;
	}
	if ((a = xnode_find_attr(n, name)) == NULL)
		return;
	i = (size_t)(a - n->attrs);
	free(a->name);
	memmove(a, a + 1, (n->nattrs - i - 1) * sizeof(*a));
	n->nattrs--;
}

/* Link child as the last child of parent. */
static void
xnode_add_child(struct xnode *parent, struct xnode *child)
{
	child->parent = parent;
	TAILQ_INSERT_TAIL(&parent->children, child, entry);
}

/* Create an element and append it to parent; the result is borrowed. */
struct xnode *
xnode_add(struct xnode *parent, const char *name, const char *ns)
{
	struct xnode	*c;

	c = xnode_new(name, ns);
	xnode_add_child(parent, c);
	return (c);
}

/* Append a detached tree to parent, which takes ownership of it. */
void
xnode_append(struct xnode *parent, struct xnode *child)
{
	if (child->parent != NULL)
		fatalx("xnode_append: node already has a parent");
	xnode_add_child(parent, child);
}

/*
 * Append len bytes of text to parent, merged into the last child if that
 * is text already.
 */
void
xnode_add_text(struct xnode *parent, const char *text, size_t len)
{
	struct xnode	*t;
	size_t		 cap;

	if (len == 0)
		return;
	t = TAILQ_LAST(&parent->children, xnode_children);
	if (t == NULL || t->name != NULL) {
		t = xnode_alloc();
		xnode_add_child(parent, t);
	}
	if (len > SIZE_MAX - 1 - t->textlen)
		fatalx("xnode_add_text: too long");
	if (t->textlen + len + 1 > t->textcap) {
		cap = t->textcap == 0 ? 64 : t->textcap;
		while (cap < t->textlen + len + 1)
			cap = cap > SIZE_MAX / 2 ? t->textlen + len + 1 :
			    cap * 2;
		t->text = xreallocarray(t->text, 1, cap);
		t->textcap = cap;
	}
	memcpy(t->text + t->textlen, text, len);
	t->textlen += len;
	t->text[t->textlen] = '\0';
}

/*
 * The first child element called name whose effective namespace is ns
 * (any namespace if ns is NULL), borrowed, or NULL.
 */
struct xnode *
xnode_child(const struct xnode *n, const char *name, const char *ns)
{
	struct xnode		*c;
	const struct xnode	*p;

	TAILQ_FOREACH(c, &n->children, entry) {
		if (c->name == NULL || strcmp(c->name, name) != 0)
			continue;
		if (ns == NULL)
			return (c);
		for (p = c; p != NULL && p->ns == NULL; p = p->parent)
			;
		if (p != NULL && strcmp(p->ns, ns) == 0)
			return (c);
	}
	return (NULL);
}

/* The first child element of n (text skipped), borrowed, or NULL. */
struct xnode *
xnode_first(const struct xnode *n)
{
	struct xnode	*c;

	TAILQ_FOREACH(c, &n->children, entry) {
		if (c->name != NULL)
			return (c);
	}
	return (NULL);
}

/* The next sibling element of n (text skipped), borrowed, or NULL. */
struct xnode *
xnode_next(const struct xnode *n)
{
	struct xnode	*c;

	for (c = TAILQ_NEXT(n, entry); c != NULL; c = TAILQ_NEXT(c, entry)) {
		if (c->name != NULL)
			return (c);
	}
	return (NULL);
}

/*
 * The direct text children of n joined, allocated ("" if none) at its
 * exact size: a resource or a roster group is kept for a session's life.
 */
char *
xnode_text(const struct xnode *n)
{
	struct xnode	*c;
	size_t		 len = 0, off = 0;
	char		*s;

	TAILQ_FOREACH(c, &n->children, entry) {
		if (c->name != NULL)
			continue;
		if (c->textlen > SIZE_MAX - 1 - len)
			fatalx("xnode_text: too long");
		len += c->textlen;
	}
	s = xmalloc(len + 1);
	TAILQ_FOREACH(c, &n->children, entry) {
		if (c->name == NULL) {
			memcpy(s + off, c->text, c->textlen);
			off += c->textlen;
		}
	}
	s[off] = '\0';
	return (s);
}

/* The number of nodes (elements and text) in the subtree of n. */
size_t
xnode_count(const struct xnode *n)
{
	struct xnode	*c;
	size_t		 count = 1;

	TAILQ_FOREACH(c, &n->children, entry)
		count += xnode_count(c);
	return (count);
}

/* Make room for len more bytes and a NUL. */
static void
xbuf_grow(struct xbuf *b, size_t len)
{
	size_t	 need, cap;

	if (len > SIZE_MAX - 1 - b->len)
		fatalx("xbuf_grow: too long");
	need = b->len + len + 1;
	if (need <= b->cap)
		return;
	cap = b->cap == 0 ? 256 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->buf = xreallocarray(b->buf, 1, cap);
	b->cap = cap;
}

/* Append len raw bytes. */
static void
xbuf_add(struct xbuf *b, const char *s, size_t len)
{
	xbuf_grow(b, len);
	memcpy(b->buf + b->len, s, len);
	b->len += len;
}

/* Append a raw string. */
static void
xbuf_adds(struct xbuf *b, const char *s)
{
	xbuf_add(b, s, strlen(s));
}

/*
 * Decode one UTF-8 character from s (len > 0) into *cp; return its length,
 * or 0 if the bytes are not valid UTF-8 (overlong, surrogate, too large).
 */
static size_t
xml_utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t	 c, min;
	size_t		 n, i;

	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return (1);
	} else if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return (0);
	if (len < n)
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (n);
}

/*
 * Append s escaped for text (attr 0) or a double-quoted attribute value
 * (attr 1). Bytes that are not UTF-8 and characters XML 1.0 does not allow
 * are dropped; CR (and TAB and LF in attributes) become character
 * references so that a parser's normalisation gives them back.
 */
static void
xbuf_escape(struct xbuf *b, const char *s, size_t len, int attr)
{
	const unsigned char	*p = (const unsigned char *)s;
	const char		*rep;
	uint32_t		 cp;
	size_t			 i, start, n;

	for (i = start = 0; i < len; i += n) {
		rep = NULL;
		n = 1;
		/* Printable ASCII that needs no reference: most bytes. */
		if (p[i] >= 0x20 && p[i] < 0x80 && p[i] != '&' &&
		    p[i] != '<' && p[i] != '>' &&
		    (!attr || (p[i] != '"' && p[i] != '\'')))
			continue;
		if ((n = xml_utf8_char(p + i, len - i, &cp)) == 0)
			n = 1;
		else if (cp == '&')
			rep = "&amp;";
		else if (cp == '<')
			rep = "&lt;";
		else if (cp == '>')
			rep = "&gt;";
		else if (cp == '\r')
			rep = "&#13;";
		else if (attr && cp == '"')
			rep = "&quot;";
		else if (attr && cp == '\'')
			rep = "&apos;";
		else if (attr && cp == '\t')
			rep = "&#9;";
		else if (attr && cp == '\n')
			rep = "&#10;";
		else if (cp == '\t' || cp == '\n' ||
		    (cp >= 0x20 && cp <= 0xd7ff) ||
		    (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000)
			continue;	/* kept as is */
		xbuf_add(b, s + start, i - start);
		if (rep != NULL)
			xbuf_adds(b, rep);
		start = i + n;
	}
	xbuf_add(b, s + start, len - start);
}

/*
 * Whether the prefix declaration a ("xmlns:prefix") is in effect already
 * with the same URI: the innermost declaration of the prefix decides.
 */
static int
xscope_bound(const struct xscope *sc, const struct xattr *a)
{
	size_t	 i;

	for (i = sc->n; i > 0; i--) {
		if (strcmp(sc->decls[i - 1]->name, a->name) != 0)
			continue;
		return (sc->decls[i - 1]->vlen == a->vlen &&
		    memcmp(sc->decls[i - 1]->value, a->value, a->vlen) == 0);
	}
	return (0);
}

/*
 * Serialise n. ctx is the namespace in effect around n in the output, or
 * NULL if unknown (the top of the output): xmlns is written when n has a
 * namespace of its own that differs from ctx. The parser gives every
 * element the declarations of the prefixes its attributes use, so that a
 * subtree stands alone; sc holds the declarations written around n, and
 * one that would repeat an enclosing one with the same URI is left out,
 * so that the output does not grow with the nesting.
 */
static void
xnode_write(struct xbuf *b, struct xscope *sc, const struct xnode *n,
    const char *ctx)
{
	const struct xnode	*c;
	const struct xattr	*a;
	const char		*eff;
	size_t			 mark = sc->n;
	unsigned int		 i;

	if (n->name == NULL) {
		xbuf_escape(b, n->text, n->textlen, 0);
		return;
	}
	xbuf_add(b, "<", 1);
	xbuf_adds(b, n->name);
	eff = ctx;
	if (n->ns != NULL && (ctx == NULL || strcmp(n->ns, ctx) != 0)) {
		xbuf_adds(b, " xmlns=\"");
		xbuf_escape(b, n->ns, strlen(n->ns), 1);
		xbuf_add(b, "\"", 1);
		eff = n->ns;
	}
	for (i = 0; i < n->nattrs; i++) {
		a = &n->attrs[i];
		if (strncmp(a->name, "xmlns:", 6) == 0) {
			if (xscope_bound(sc, a))
				continue;
			if (sc->n == sc->cap) {
				sc->cap = sc->cap == 0 ? 16 : sc->cap * 2;
				sc->decls = xreallocarray(sc->decls, sc->cap,
				    sizeof(*sc->decls));
			}
			sc->decls[sc->n++] = a;
		}
		xbuf_add(b, " ", 1);
		xbuf_adds(b, a->name);
		xbuf_add(b, "=\"", 2);
		xbuf_escape(b, a->value, a->vlen, 1);
		xbuf_add(b, "\"", 1);
	}
	if (TAILQ_EMPTY(&n->children)) {
		xbuf_add(b, "/>", 2);
		sc->n = mark;
		return;
	}
	xbuf_add(b, ">", 1);
	TAILQ_FOREACH(c, &n->children, entry)
		xnode_write(b, sc, c, eff);
	xbuf_add(b, "</", 2);
	xbuf_adds(b, n->name);
	xbuf_add(b, ">", 1);
	sc->n = mark;
}

/*
 * Serialise the subtree of n, allocated and NUL-terminated; *len (if not
 * NULL) gets its length. n itself carries xmlns only when its own
 * namespace is set: a stanza whose namespace is NULL takes the default
 * namespace of the stream it is written into.
 */
char *
xnode_string(const struct xnode *n, size_t *len)
{
	struct xbuf	 b;
	struct xscope	 sc;

	memset(&b, 0, sizeof(b));
	memset(&sc, 0, sizeof(sc));
	xbuf_grow(&b, 1);
	xnode_write(&b, &sc, n, NULL);
	free(sc.decls);
	b.buf[b.len] = '\0';
	if (len != NULL)
		*len = b.len;
	return (b.buf);
}
