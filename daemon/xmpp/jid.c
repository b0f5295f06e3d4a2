/*
 * JIDs (RFC 7622), simplified to what a local server needs: localpart and
 * domainpart are case-folded (ASCII), the resource is kept as sent, and
 * characters the RFC forbids are refused.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "xmpp/xmpp.h"

static int	 jid_check(const char *, size_t, const char *);

/* Whether s[0..n) is 1..1023 bytes without control bytes or bad chars. */
static int
jid_check(const char *s, size_t n, const char *bad)
{
	size_t	 i;

	if (n == 0 || n > 1023)
		return (-1);
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f ||
		    strchr(bad, s[i]) != NULL)
			return (-1);
	}
	return (0);
}

/*
 * Split a JID into *j (cleared first; free with jid_clear). Returns -1 for
 * a JID that is not valid, with *j empty.
 */
int
jid_parse(const char *s, struct jid *j)
{
	const char	*at, *slash, *dom;
	size_t		 dlen, i;

	memset(j, 0, sizeof(*j));
	slash = strchr(s, '/');
	at = strchr(s, '@');
	if (at != NULL && slash != NULL && at > slash)
		at = NULL;		/* an @ in the resource */
	dom = at ? at + 1 : s;
	dlen = slash ? (size_t)(slash - dom) : strlen(dom);
	if (at != NULL && jid_check(s, at - s, "\"&'/:<>@") == -1)
		return (-1);
	if (jid_check(dom, dlen, "\"&'/<>@ ") == -1 || dom[dlen - 1] == '.')
		return (-1);
	if (slash != NULL) {
		if (strlen(slash + 1) == 0 || strlen(slash + 1) > 1023)
			return (-1);
		for (i = 1; slash[i] != '\0'; i++)
			if ((unsigned char)slash[i] < 0x20 || slash[i] == 0x7f)
				return (-1);
		j->resource = xstrdup(slash + 1);
	}
	if (at != NULL) {
		j->local = xstrndup(s, at - s);
		for (i = 0; j->local[i] != '\0'; i++)
			j->local[i] = tolower((unsigned char)j->local[i]);
	}
	j->domain = xstrndup(dom, dlen);
	for (i = 0; j->domain[i] != '\0'; i++)
		j->domain[i] = tolower((unsigned char)j->domain[i]);
	return (0);
}

/* Free the parts of a JID. */
void
jid_clear(struct jid *j)
{
	free(j->local);
	free(j->domain);
	free(j->resource);
	memset(j, 0, sizeof(*j));
}

/* local@domain, or domain; the caller frees. */
char *
jid_bare(const struct jid *j)
{
	char	*s;
	size_t	 ll, dl;

	if (j->local == NULL)
		return (xstrdup(j->domain));
	/* Per routed stanza: no printf. */
	ll = strlen(j->local);
	dl = strlen(j->domain);
	s = xmalloc(ll + dl + 2);
	memcpy(s, j->local, ll);
	s[ll] = '@';
	memcpy(s + ll + 1, j->domain, dl + 1);
	return (s);
}

/* The whole JID; the caller frees. */
char *
jid_full(const struct jid *j)
{
	char	*s;

	xasprintf(&s, "%s%s%s%s%s", j->local ? j->local : "",
	    j->local ? "@" : "", j->domain, j->resource ? "/" : "",
	    j->resource ? j->resource : "");
	return (s);
}
