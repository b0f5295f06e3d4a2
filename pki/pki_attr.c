/*
 * The attribute words of the pki commands, as on the MMP:
 * CN:<v> OU:<v> O:<v> L:<v> ST:<v> C:<v> subjectAltName:<a>,<b>,...
 * key:<type> days:<n>. Names are matched without regard to case; a value
 * may be wrapped in one pair of quotes.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pki.h"
#include "xmalloc.h"

static int	 pki_attr_san(struct pki_attrs *, const char *, char **);
static int	 pki_attr_dns(const char *);
static int	 pki_attr_text(const char *, const char *, size_t, char **);
static int	 pki_attr_add_cn(struct pki_attrs *, char **);
static int	 pki_attr_same_ip(const char *, const char *);

static const struct {
	const char		*name;
	enum pki_keytype	 type;
} keytypes[] = {
	{ "rsa2048",	PKI_KEY_RSA2048 },
	{ "rsa3072",	PKI_KEY_RSA3072 },
	{ "rsa4096",	PKI_KEY_RSA4096 },
	{ "ec256",	PKI_KEY_EC256 },
	{ "ec384",	PKI_KEY_EC384 },
};

/* The name of a key type, as typed in key:<type>. */
const char *
pki_keytype_name(enum pki_keytype t)
{
	size_t	 i;

	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
		if (keytypes[i].type == t)
			return (keytypes[i].name);
	return ("unknown");
}

/* A DNS name, optionally with a leading "*." wildcard label. */
static int
pki_attr_dns(const char *s)
{
	const char	*p, *label;
	size_t		 n = strlen(s);

	if (n == 0 || n > 253)
		return (0);
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	label = s;
	for (p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' ||
			    p[-1] == '-')
				return (0);
			/* An all-digit top label is a mistyped address. */
			if (*p == '\0')
				return (strspn(label, "0123456789") !=
				    (size_t)(p - label));
			label = p + 1;
		} else if (!isascii((unsigned char)*p) ||
		    (!isalnum((unsigned char)*p) && *p != '-'))
			return (0);
	}
}

/* Subject text: printable, no control characters, at most max bytes. */
static int
pki_attr_text(const char *name, const char *v, size_t max, char **cause)
{
	const unsigned char	*p;
	int			 follow = 0;

	if (strlen(v) > max) {
		xasprintf(cause, "%s is longer than %zu bytes", name, max);
		return (-1);
	}
	if (strspn(v, " ") == strlen(v)) {
		xasprintf(cause, "%s is blank", name);
		return (-1);
	}
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			xasprintf(cause, "%s holds a control character", name);
			return (-1);
		}
		/* Well-formed UTF-8 sequences only (lead byte, then 10xxxxxx). */
		if (follow > 0) {
			if ((*p & 0xc0) != 0x80)
				break;
			follow--;
		} else if (*p >= 0xc2 && *p <= 0xdf)
			follow = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			follow = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			follow = 3;
		else if (*p >= 0x80)
			break;
	}
	if (*p != '\0' || follow > 0) {
		xasprintf(cause, "%s is not valid UTF-8", name);
		return (-1);
	}
	return (0);
}

/* Add subjectAltName entries: a comma-separated list. */
static int
pki_attr_san(struct pki_attrs *a, const char *list, char **cause)
{
	struct in6_addr	 addr;
	char		*copy, *p, *entry;
	size_t		 n;
	int		 i, ip, want, rc = -1;

	copy = p = xstrdup(list);
	while ((entry = strsep(&p, ",")) != NULL) {
		while (*entry == ' ')
			entry++;
		n = strlen(entry);
		while (n > 0 && entry[n - 1] == ' ')
			entry[--n] = '\0';
		want = -1;
		if (strncasecmp(entry, "DNS:", 4) == 0) {
			entry += 4;
			want = 0;
		} else if (strncasecmp(entry, "IP:", 3) == 0) {
			entry += 3;
			want = 1;
		}
		if (*entry == '\0') {
			xasprintf(cause, "subjectAltName has an empty entry");
			goto out;
		}
		ip = inet_pton(AF_INET, entry, &addr) == 1 ||
		    inet_pton(AF_INET6, entry, &addr) == 1;
		if ((!ip && !pki_attr_dns(entry)) || (want != -1 &&
		    want != ip)) {
			xasprintf(cause, "bad subjectAltName entry '%.64s': "
			    "not %s", entry, want == 1 ? "an IP address" :
			    want == 0 ? "a DNS name" :
			    "a DNS name or an IP address");
			goto out;
		}
		for (i = 0; i < a->nsan; i++)
			if (strcasecmp(a->san[i].value, entry) == 0)
				break;
		if (i < a->nsan)
			continue;	/* given twice: once is enough */
		if (a->nsan == PKI_MAXSAN) {
			xasprintf(cause, "subjectAltName: at most %d entries",
			    PKI_MAXSAN);
			goto out;
		}
		a->san[a->nsan].ip = ip;
		a->san[a->nsan].value = xstrdup(entry);
		a->nsan++;
	}
	rc = 0;
out:
	free(copy);
	return (rc);
}

/* Whether two IP address literals name the same address. */
static int
pki_attr_same_ip(const char *x, const char *y)
{
	unsigned char	 a[16], b[16];

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	if (inet_pton(AF_INET, x, a) == 1 && inet_pton(AF_INET, y, b) == 1)
		return (memcmp(a, b, 4) == 0);
	if (inet_pton(AF_INET6, x, a) == 1 && inet_pton(AF_INET6, y, b) == 1)
		return (memcmp(a, b, 16) == 0);
	return (0);
}

/* Put the CN first in the SAN list when it is a name and not there yet. */
static int
pki_attr_add_cn(struct pki_attrs *a, char **cause)
{
	struct in6_addr	 addr;
	int		 i, ip;

	ip = inet_pton(AF_INET, a->cn, &addr) == 1 ||
	    inet_pton(AF_INET6, a->cn, &addr) == 1;
	if (!ip && !pki_attr_dns(a->cn))
		return (0);
	for (i = 0; i < a->nsan; i++) {
		if (strcasecmp(a->san[i].value, a->cn) == 0)
			return (0);
		if (ip && a->san[i].ip && pki_attr_same_ip(a->san[i].value,
		    a->cn))
			return (0);
	}
	if (a->nsan == PKI_MAXSAN) {
		xasprintf(cause, "subjectAltName: at most %d entries besides "
		    "the CN", PKI_MAXSAN - 1);
		return (-1);
	}
	memmove(&a->san[1], &a->san[0], a->nsan * sizeof(a->san[0]));
	a->san[0].ip = ip;
	a->san[0].value = xstrdup(a->cn);
	a->nsan++;
	a->cn_added = 1;
	return (0);
}

/*
 * Parse attribute words into *a (cleared first; free with
 * pki_attrs_clear, also on failure). allowed is a PKI_ATTR_ mask: a word
 * outside it is refused. With PKI_ATTR_SUBJECT a CN is required; with
 * PKI_ATTR_SAN the CN is added to the SAN list when missing.
 */
int
pki_attrs_parse(int argc, const char **argv, int allowed,
    struct pki_attrs *a, char **cause)
{
	static const char *const subj[] = { "CN", "OU", "O", "L", "ST", "C" };
	static const size_t	 maxlen[] = { 64, 64, 64, 128, 128, 2 };
	char			**slot[6];
	const char		*w, *colon;
	char			*name = NULL, *value = NULL;
	size_t			 i, n;
	int			 k, seen_san = 0, seen_key = 0, seen_days = 0;
	int			 rc = -1;

	memset(a, 0, sizeof(*a));
	a->key = PKI_KEY_RSA2048;
	a->days = allowed & PKI_ATTR_SAN ? 365 : 3650;
	slot[0] = &a->cn;
	slot[1] = &a->ou;
	slot[2] = &a->o;
	slot[3] = &a->l;
	slot[4] = &a->st;
	slot[5] = &a->c;

	for (k = 0; k < argc; k++) {
		free(name);
		free(value);
		w = argv[k];
		if ((colon = strchr(w, ':')) == NULL || colon == w) {
			xasprintf(cause, "'%.64s' is not an attribute (write "
			    "NAME:value, for example CN:xmpp.example.com)", w);
			name = value = NULL;
			goto out;
		}
		name = xstrndup(w, colon - w);
		value = xstrdup(colon + 1);
		n = strlen(value);
		if (n >= 2 && (value[0] == '"' || value[0] == '\'') &&
		    value[n - 1] == value[0]) {
			memmove(value, value + 1, n - 2);
			value[n - 2] = '\0';
		}

		for (i = 0; i < 6; i++)
			if (strcasecmp(name, subj[i]) == 0)
				break;
		if (i < 6 && (allowed & PKI_ATTR_SUBJECT) &&
		    (!(allowed & PKI_ATTR_CN_ONLY) || i == 0)) {
			if (*slot[i] != NULL) {
				xasprintf(cause, "%s given twice", subj[i]);
				goto out;
			}
			if (*value == '\0') {
				xasprintf(cause, "%s is empty", subj[i]);
				goto out;
			}
			if (i == 5 && (strlen(value) != 2 ||
			    !isalpha((unsigned char)value[0]) ||
			    !isalpha((unsigned char)value[1]))) {
				xasprintf(cause, "C must be a two-letter "
				    "country code, not '%.64s'", value);
				goto out;
			}
			if (pki_attr_text(subj[i], value, maxlen[i], cause) ==
			    -1)
				goto out;
			if (i == 5) {
				value[0] = toupper((unsigned char)value[0]);
				value[1] = toupper((unsigned char)value[1]);
			}
			*slot[i] = value;
			value = NULL;
		} else if (strcasecmp(name, "subjectAltName") == 0 &&
		    (allowed & PKI_ATTR_SAN)) {
			if (seen_san++) {
				xasprintf(cause, "subjectAltName given twice; "
				    "list every name in one, comma-separated");
				goto out;
			}
			if (*value == '\0') {
				xasprintf(cause, "subjectAltName is empty");
				goto out;
			}
			if (pki_attr_san(a, value, cause) == -1)
				goto out;
		} else if (strcasecmp(name, "key") == 0 &&
		    (allowed & PKI_ATTR_KEY)) {
			if (seen_key++) {
				xasprintf(cause, "key given twice");
				goto out;
			}
			for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]);
			    i++)
				if (strcasecmp(value, keytypes[i].name) == 0)
					break;
			if (i == sizeof(keytypes) / sizeof(keytypes[0])) {
				xasprintf(cause, "unknown key type '%.64s'; "
				    "possible: rsa2048, rsa3072, rsa4096, "
				    "ec256, ec384", value);
				goto out;
			}
			a->key = keytypes[i].type;
		} else if (strcasecmp(name, "days") == 0 &&
		    (allowed & PKI_ATTR_DAYS)) {
			if (seen_days++) {
				xasprintf(cause, "days given twice");
				goto out;
			}
			n = strlen(value);
			if (n == 0 || n > 5 || strspn(value, "0123456789") !=
			    n || atoi(value) < 1 || atoi(value) > 36500) {
				xasprintf(cause, "days must be a number from 1 "
				    "to 36500, not '%.64s'", value);
				goto out;
			}
			a->days = atoi(value);
		} else {
			xasprintf(cause, "unknown attribute '%.64s'; possible:%s"
			    "%s%s%s", name,
			    allowed & PKI_ATTR_CN_ONLY ? " CN" :
			    allowed & PKI_ATTR_SUBJECT ?
			    " CN, OU, O, L, ST, C" : "",
			    allowed & PKI_ATTR_SAN ? ", subjectAltName" : "",
			    allowed & PKI_ATTR_KEY ? ", key" : "",
			    allowed & PKI_ATTR_DAYS ? (allowed &
			    ~PKI_ATTR_DAYS ? ", days" : " days") : "");
			goto out;
		}
	}
	if ((allowed & PKI_ATTR_SUBJECT) && a->cn == NULL) {
		xasprintf(cause, "CN:<value> is required");
		goto out;
	}
	if ((allowed & PKI_ATTR_SAN) && a->cn != NULL &&
	    pki_attr_add_cn(a, cause) == -1)
		goto out;
	rc = 0;
out:
	free(name);
	free(value);
	return (rc);
}

/* Free what pki_attrs_parse allocated; the struct itself is the caller's. */
void
pki_attrs_clear(struct pki_attrs *a)
{
	int	 i;

	free(a->cn);
	free(a->ou);
	free(a->o);
	free(a->l);
	free(a->st);
	free(a->c);
	for (i = 0; i < a->nsan; i++)
		free(a->san[i].value);
	memset(a, 0, sizeof(*a));
}
