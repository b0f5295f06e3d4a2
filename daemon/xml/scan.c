/*
 * The stream parser's pre-scan: before libxml2 sees any input, find where
 * tags begin and end, so that an unfinished tag is held back until its
 * '>' arrives, count the attributes and namespace declarations of each
 * start tag against their limits, and refuse comments, DTDs and other
 * markup declarations before libxml2 has buffered any of them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "xml/xml.h"
#include "xml/xml_int.h"

static void	xp_lexfail(struct xparser *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	xp_scan_stag(struct xparser *, unsigned char);

/* Note an error found by the pre-scan; reported once what precedes is fed. */
static void
xp_lexfail(struct xparser *p, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[80];

	p->w->lexerr = code;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(p->w->lexmsg);
	p->w->lexmsg = xstrdup(msg);
}

/* One byte of a start tag outside quoted values: count the attributes. */
static void
xp_scan_stag(struct xparser *p, unsigned char ch)
{
	switch (ch) {
	case '>':
		p->w->lex = XL_TEXT;
		break;
	case '\'':
	case '"':
		p->w->lex = XL_QUOTE;
		p->w->lexq = (char)ch;
		p->w->lexinname = 0;
		break;
	case '=':
		/* Each attribute has one '=' outside quotes. */
		p->w->lexinname = 0;
		if (++p->w->nattrs > XP_MAX_ATTRS) {
			xp_lexfail(p, XP_POLICY, "element with more than %d "
			    "attributes", XP_MAX_ATTRS);
			break;
		}
		if ((p->w->lexwlen == 5 && memcmp(p->w->lexword, "xmlns", 5) == 0) ||
		    (p->w->lexwlen >= 6 && memcmp(p->w->lexword, "xmlns:", 6) == 0)) {
			if (++p->w->nnsdecls > XP_MAX_NSDECLS)
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
		p->w->lexinname = 0;
		break;
	default:
		if (!p->w->lexinname) {
			p->w->lexinname = 1;
			p->w->lexwlen = 0;
		}
		if (p->w->lexwlen < sizeof(p->w->lexword))
			p->w->lexword[p->w->lexwlen] = (char)ch;
		if (p->w->lexwlen <= sizeof(p->w->lexword))
			p->w->lexwlen++;
		break;
	}
}

/*
 * Scan len bytes for where tags begin and end, counting the attributes of
 * start tags. Returns how many of them may go to libxml2 now: up to the
 * end of the last byte outside a tag. Comments, DTDs and other markup
 * declarations are refused here, before libxml2 has buffered any of them;
 * processing instructions and the XML declaration are held like tags and
 * left to libxml2 to judge. On an error (p->w->lexerr) scanning stops.
 */
size_t
xp_scan(struct xparser *p, const char *buf, size_t len)
{
	const unsigned char	*s = (const unsigned char *)buf, *q;
	size_t			 i, safe = 0;

	for (i = 0; i < len && p->w->lexerr == 0; i++) {
		switch (p->w->lex) {
		case XL_TEXT:
			if ((q = memchr(s + i, '<', len - i)) == NULL) {
				i = len - 1;
				break;
			}
			i = (size_t)(q - s);
			safe = i;
			p->w->lex = XL_LT;
			break;
		case XL_CDATA:
			if (s[i] == '>' && p->w->lexn >= 2)
				p->w->lex = XL_TEXT;
			p->w->lexn = s[i] != ']' ? 0 : p->w->lexn < 2 ?
			    p->w->lexn + 1 : 2;
			break;
		case XL_LT:
			if (s[i] == '/')
				p->w->lex = XL_ETAG;
			else if (s[i] == '!')
				p->w->lex = XL_BANG;
			else if (s[i] == '?') {
				p->w->lex = XL_PI;
				p->w->lexn = 0;
			} else {
				p->w->lex = XL_STAG;
				p->w->nattrs = p->w->nnsdecls = 0;
				p->w->lexinname = 0;
				xp_scan_stag(p, s[i]);
			}
			break;
		case XL_BANG:
			if (s[i] == '[') {
				p->w->lex = XL_CDATA;
				p->w->lexn = 0;
			} else if (s[i] == '-')
				xp_lexfail(p, XP_RESTRICTED_XML, "comment");
			else if (s[i] == 'D')
				xp_lexfail(p, XP_RESTRICTED_XML, "DTD");
			else
				xp_lexfail(p, XP_NOT_WELL_FORMED,
				    "markup declaration");
			break;
		case XL_PI:
			if (s[i] == '>' && p->w->lexn)
				p->w->lex = XL_TEXT;
			p->w->lexn = s[i] == '?';
			break;
		case XL_ETAG:
			if (s[i] == '>')
				p->w->lex = XL_TEXT;
			break;
		case XL_STAG:
			xp_scan_stag(p, s[i]);
			break;
		case XL_QUOTE:
			if ((q = memchr(s + i, p->w->lexq, len - i)) == NULL) {
				i = len - 1;
				break;
			}
			i = (size_t)(q - s);
			p->w->lex = XL_STAG;
			break;
		}
		if (p->w->lexerr == 0 &&
		    (p->w->lex == XL_TEXT || p->w->lex == XL_CDATA))
			safe = i + 1;
	}
	return (safe);
}
