/*
 * The replicated state machine's entries as text (fsm.c holds the state):
 * encoding, decoding and checking them, and the roster item's own form.
 *
 * An entry is one line of text: a type word, then its fields, separated
 * by single tabs. No field is empty or holds a tab, CR, LF or NUL; node
 * ids are decimal and not 0; keys and digests are hex.
 *
 *	init		domain	keyhex
 *	user-set	user	blob
 *	user-del	user
 *	digest-set	node	cbname	digest
 *	digest-del	node	cbname
 *	forget		node
 *	member		node	addr	identity
 *	roster-set	owner	jid	item
 *	roster-del	owner	jid
 *	timers		heartbeat-ms	election-ms
 *	revoke		identity
 *	revoke-clear	all
 *	session-open	session (16 hex digits)
 *	offline-put	owner	stanza (escaped: fsm_offline.c)
 *	offline-del	owner	id (decimal, not 0)
 *
 * Any entry but session-open may come in a session's envelope
 * ("@session:serial:lo" and a tab before it; fsm_session.c), which makes
 * sure it is applied once.
 *
 * timers are the raft timers of every member (xmpp cluster timers): a
 * heartbeat of CFSM_HB_MIN to CFSM_HB_MAX ms and an election timeout of
 * at least three heartbeats and at most CFSM_EL_MAX ms, decimal. published
 * says a node has put in the digests of all its call bridges once (none,
 * maybe): until then its missing digests are not reported as missing.
 *
 * A roster item (struct db_roster but its JID) is five words separated
 * by single spaces, so that it holds no tab, CR or LF:
 *
 *	subscription	none, to, from or both
 *	ask		0 or 1
 *	pending_in	0, 1 or 2
 *	name		"-" when there is none, else "=" and the name
 *	groups		"=" and the groups, newline-separated ("=" for none)
 *
 * Name and groups are percent-encoded: every byte but A-Z, a-z, 0-9 and
 * "-._~" (RFC 3986's unreserved characters) is "%" and two uppercase hex
 * digits, and those characters are never escaped; %00 is refused. An item
 * has exactly one spelling, so equal items are equal strings.
 *
 * Trailing NULs are allowed: raft wants entries padded to a multiple of
 * 8 bytes, and callers pad with NULs. An entry this version does not know
 * (a newer node wrote it) or cannot parse is logged and skipped, never
 * fatal.
 *
 * A member entry pins the certificate of a node that joined (identity:
 * the SHA-256 of its certificate's public key, 64 lowercase hex digits).
 * revoke keeps a removed member's identity from joining again, until
 * revoke-clear.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/fsm_int.h"
#include "compat.h"
#include "db.h"
#include "xmalloc.h"

/* The entry types: word, number of fields after it. */
static const struct cfsm_type {
	const char	*word;
	int		 type;
	int		 nfields;
} cfsm_types[] = {
	{ "init",	CE_INIT,	2 },
	{ "user-set",	CE_USER_SET,	2 },
	{ "user-del",	CE_USER_DEL,	1 },
	{ "digest-set",	CE_DIGEST_SET,	3 },
	{ "digest-del",	CE_DIGEST_DEL,	2 },
	{ "forget",	CE_FORGET,	1 },
	{ "roster-set",	CE_ROSTER_SET,	3 },
	{ "roster-del",	CE_ROSTER_DEL,	2 },
	{ "member",	CE_MEMBER,	3 },
	{ "timers",	CE_TIMERS,	2 },
	{ "published",	CE_PUBLISHED,	1 },
	{ "revoke",	CE_REVOKE,	1 },
	{ "revoke-clear", CE_REVOKE_CLEAR, 1 },
	{ "session-open", CE_SESSION,	1 },
	{ "offline-put", CE_OFFLINE_PUT, 2 },
	{ "offline-del", CE_OFFLINE_DEL, 2 },
};

static int	 cfsm_field_ok(const char *);
static int	 cfsm_node_parse(const char *, uint64_t *);
static int	 cfsm_ms_parse(const char *);
static int	 cfsm_sub_ok(const char *);
static int	 cfsm_pct_keep(int);
static void	 cfsm_pct_add(struct cfsm_buf *, const char *);
static int	 cfsm_xdigit(int);
static char	*cfsm_pct_dec(const char *);
static int	 cfsm_roster_caps(const struct db_roster *);
static char	*cfsm_enc(const char *, const char *, const char *,
		    const char *);

/* A field is not empty and holds no tab, CR or LF. */
static int
cfsm_field_ok(const char *s)
{
	return (s != NULL && *s != '\0' && strpbrk(s, "\t\r\n") == NULL);
}

/* Hex: not empty, an even number of hex digits. */
int
cfsm_hex_ok(const char *s)
{
	size_t	 len;

	if (s == NULL || (len = strlen(s)) == 0 || len % 2 != 0)
		return (0);
	return (strspn(s, "0123456789abcdefABCDEF") == len);
}

/* A node id: decimal, not 0, fits 64 bits. 0 or -1. */
static int
cfsm_node_parse(const char *s, uint64_t *node)
{
	unsigned long long	 v;
	char			*end;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return (-1);
	*node = v;
	return (0);
}

/* A number of milliseconds, decimal, or -1. */
static int
cfsm_ms_parse(const char *s)
{
	long	 v = 0;

	if (*s == '\0' || strlen(s) > 6 || strspn(s, "0123456789") !=
	    strlen(s))
		return (-1);
	v = strtol(s, NULL, 10);
	return ((int)v);
}

/* A subscription state of RFC 6121 2.1.2.5. */
static int
cfsm_sub_ok(const char *s)
{
	return (strcmp(s, "none") == 0 || strcmp(s, "to") == 0 ||
	    strcmp(s, "from") == 0 || strcmp(s, "both") == 0);
}

/* Whether byte c stays itself in percent-encoding (RFC 3986 2.3). */
static int
cfsm_pct_keep(int c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~');
}

/* Append s to b, percent-encoded. */
static void
cfsm_pct_add(struct cfsm_buf *b, const char *s)
{
	char	 esc[4];

	for (; *s != '\0'; s++) {
		if (cfsm_pct_keep((unsigned char)*s)) {
			esc[0] = *s;
			esc[1] = '\0';
		} else
			snprintf(esc, sizeof(esc), "%%%02X", (unsigned char)*s);
		cfsm_buf_add(b, esc);
	}
}

/* The value of an uppercase hex digit, or -1. */
static int
cfsm_xdigit(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * Undo cfsm_pct_add; NULL unless s is exactly what it writes. The caller
 * frees the result.
 */
static char *
cfsm_pct_dec(const char *s)
{
	char	*out, *o;
	int	 hi, lo, c;

	o = out = xmalloc(strlen(s) + 1);
	while (*s != '\0') {
		if (*s != '%') {
			if (!cfsm_pct_keep((unsigned char)*s))
				goto bad;
			*o++ = *s++;
			continue;
		}
		if ((hi = cfsm_xdigit((unsigned char)s[1])) == -1 ||
		    (lo = cfsm_xdigit((unsigned char)s[2])) == -1)
			goto bad;
		c = hi * 16 + lo;
		if (c == 0 || cfsm_pct_keep(c))
			goto bad;
		*o++ = (char)c;
		s += 3;
	}
	*o = '\0';
	return (out);
bad:
	free(out);
	return (NULL);
}

/*
 * A roster item (all of r but its jid) as the log spells it, or NULL if
 * r holds what no item may (an unknown subscription, ask not 0 or 1,
 * pending_in not 0, 1 or 2). The caller frees the result.
 */
char *
cfsm_roster_enc(const struct db_roster *r)
{
	struct cfsm_buf	 b = { NULL, 0, 0 };
	char		 head[32];

	if (r == NULL || r->subscription == NULL ||
	    !cfsm_sub_ok(r->subscription) || r->ask < 0 || r->ask > 1 ||
	    r->pending_in < 0 || r->pending_in > 2)
		return (NULL);
	snprintf(head, sizeof(head), "%s %d %d ", r->subscription, r->ask,
	    r->pending_in);
	cfsm_buf_add(&b, head);
	if (r->name == NULL)
		cfsm_buf_add(&b, "-");
	else {
		cfsm_buf_add(&b, "=");
		cfsm_pct_add(&b, r->name);
	}
	cfsm_buf_add(&b, " =");
	cfsm_pct_add(&b, r->groups != NULL ? r->groups : "");
	return (b.p);
}

/*
 * Whether a decoded item is within the size caps of one roster item
 * (db.h): the name's bytes, the number of groups and each one's bytes.
 */
static int
cfsm_roster_caps(const struct db_roster *r)
{
	const char	*g = r->groups;
	size_t		 len;
	int		 n = 0;

	if (r->name != NULL && strlen(r->name) > DB_ROSTER_MAX_NAME)
		return (0);
	if (*g == '\0')
		return (1);
	for (;;) {
		len = strcspn(g, "\n");
		if (++n > DB_ROSTER_MAX_GROUPS || len > DB_ROSTER_MAX_GROUP)
			return (0);
		if (g[len] == '\0')
			return (1);
		g += len + 1;
	}
}

/*
 * Decode a roster item into r: name (NULL if none), subscription, ask,
 * pending_in and groups ("" if none), allocated; r->jid is left NULL for
 * the caller to set. 0, or -1 (r zeroed) if item is not exactly what
 * cfsm_roster_enc writes. Free with db_roster_clear.
 */
int
cfsm_roster_dec(const char *item, struct db_roster *r)
{
	char	*copy, *p, *s, *w[5];
	int	 n = 0, rc = -1;

	memset(r, 0, sizeof(*r));
	if (item == NULL)
		return (-1);
	copy = p = xstrdup(item);
	while ((s = strsep(&p, " ")) != NULL) {
		if (n == (int)nitems(w))
			goto out;
		w[n++] = s;
	}
	if (n != (int)nitems(w) || !cfsm_sub_ok(w[0]) ||
	    (strcmp(w[1], "0") != 0 && strcmp(w[1], "1") != 0) ||
	    (strcmp(w[2], "0") != 0 && strcmp(w[2], "1") != 0 &&
	    strcmp(w[2], "2") != 0) || w[4][0] != '=')
		goto out;
	if (strcmp(w[3], "-") != 0 && (w[3][0] != '=' ||
	    (r->name = cfsm_pct_dec(w[3] + 1)) == NULL))
		goto out;
	if ((r->groups = cfsm_pct_dec(w[4] + 1)) == NULL ||
	    !cfsm_roster_caps(r))
		goto out;
	r->subscription = xstrdup(w[0]);
	r->ask = w[1][0] - '0';
	r->pending_in = w[2][0] - '0';
	rc = 0;
out:
	if (rc == -1) {
		free(r->name);
		free(r->groups);
		memset(r, 0, sizeof(*r));
	}
	free(copy);
	return (rc);
}

/*
 * Split and check one entry in line (a writable NUL-terminated copy that
 * e then points into). 0, or -1 with *cause set (static, no contents).
 */
int
cfsm_decode(char *line, struct cfsm_entry *e, const char **cause)
{
	const struct cfsm_type	*t = NULL;
	struct db_roster	 r;
	char			*f[CFSM_MAX_FIELDS + 1], *p;
	size_t			 i;
	int			 n = 0;

	memset(e, 0, sizeof(*e));
	while ((p = strsep(&line, "\t")) != NULL) {
		if (n == CFSM_MAX_FIELDS) {
			*cause = "too many fields";
			return (-1);
		}
		f[n++] = p;
	}
	for (i = 0; i < nitems(cfsm_types); i++)
		if (strcmp(f[0], cfsm_types[i].word) == 0)
			t = &cfsm_types[i];
	if (t == NULL) {
		*cause = "unknown type";
		return (-1);
	}
	if (n - 1 != t->nfields) {
		*cause = "wrong number of fields";
		return (-1);
	}
	for (i = 1; i < (size_t)n; i++) {
		if (!cfsm_field_ok(f[i])) {
			*cause = "empty field or control character";
			return (-1);
		}
	}
	e->type = t->type;
	switch (t->type) {
	case CE_INIT:
	case CE_USER_SET:
		e->a = f[1];
		e->b = f[2];
		if (t->type == CE_INIT && !cfsm_hex_ok(e->b)) {
			*cause = "bad key";
			return (-1);
		}
		break;
	case CE_USER_DEL:
		e->a = f[1];
		break;
	case CE_REVOKE:
	case CE_REVOKE_CLEAR:
		e->a = f[1];
		if (t->type == CE_REVOKE_CLEAR ? strcmp(e->a, "all") != 0 :
		    (strlen(e->a) != CFSM_IDENT_LEN ||
		    strspn(e->a, "0123456789abcdef") != CFSM_IDENT_LEN)) {
			*cause = "bad identity";
			return (-1);
		}
		break;
	case CE_SESSION:
		if (cfsm_sess_id_parse(f[1], &e->sess) == -1) {
			*cause = "bad session id";
			return (-1);
		}
		break;
	case CE_TIMERS:
		e->hb = cfsm_ms_parse(f[1]);
		e->el = cfsm_ms_parse(f[2]);
		if (e->hb < CFSM_HB_MIN || e->hb > CFSM_HB_MAX ||
		    e->el < 3 * e->hb || e->el > CFSM_EL_MAX) {
			*cause = "bad timers";
			return (-1);
		}
		break;
	case CE_DIGEST_SET:
	case CE_DIGEST_DEL:
	case CE_FORGET:
	case CE_PUBLISHED:
	case CE_MEMBER:
		if (cfsm_node_parse(f[1], &e->node) == -1) {
			*cause = "bad node id";
			return (-1);
		}
		if (t->type == CE_FORGET || t->type == CE_PUBLISHED)
			break;
		e->a = f[2];
		if (t->type == CE_MEMBER) {
			e->b = f[3];
			if (strlen(e->a) >= 80 || strchr(e->a, ' ') != NULL) {
				*cause = "bad member address";
				return (-1);
			}
			if (strlen(e->b) != CFSM_IDENT_LEN ||
			    strspn(e->b, "0123456789abcdef") !=
			    CFSM_IDENT_LEN) {
				*cause = "bad member identity";
				return (-1);
			}
			break;
		}
		if (t->type == CE_DIGEST_SET) {
			e->b = f[3];
			if (!cfsm_hex_ok(e->b)) {
				*cause = "bad digest";
				return (-1);
			}
		}
		break;
	case CE_OFFLINE_PUT:
		e->a = f[1];
		e->b = f[2];
		if (!cfsm_off_esc_ok(e->b)) {
			*cause = "bad offline stanza";
			return (-1);
		}
		break;
	case CE_OFFLINE_DEL:
		e->a = f[1];
		if (cfsm_node_parse(f[2], &e->id) == -1 ||
		    e->id > INT64_MAX) {
			*cause = "bad offline id";
			return (-1);
		}
		break;
	case CE_ROSTER_SET:
	case CE_ROSTER_DEL:
		e->a = f[1];
		e->b = f[2];
		if (strlen(e->b) > DB_ROSTER_MAX_JID) {
			*cause = "roster JID too long";
			return (-1);
		}
		if (t->type == CE_ROSTER_DEL)
			break;
		e->c = f[3];
		if (cfsm_roster_dec(e->c, &r) == -1) {
			*cause = "bad roster item";
			return (-1);
		}
		free(r.name);
		free(r.subscription);
		free(r.groups);
		break;
	}
	return (0);
}

/*
 * Copy len bytes of raft data into a NUL-terminated string, dropping the
 * trailing NULs of padding. NULL with *cause set if a NUL is inside.
 */
char *
cfsm_copy(const void *base, size_t len, const char **cause)
{
	const char	*s = base;
	char		*copy;
	size_t		 all = len;

	while (len > 0 && s[len - 1] == '\0')
		len--;
	if (len == 0) {
		*cause = "empty";
		return (NULL);
	}
	if (memchr(s, '\0', len) != NULL) {
		*cause = "NUL inside";
		return (NULL);
	}
	/* As long as the buffer, so callers may wipe all of it. */
	copy = xcalloc(1, all + 1);
	memcpy(copy, s, len);
	return (copy);
}

/* Append a string to b. */
void
cfsm_buf_add(struct cfsm_buf *b, const char *s)
{
	size_t	 len = strlen(s);

	if (b->len + len + 1 > b->cap) {
		while (b->len + len + 1 > b->cap)
			b->cap = b->cap == 0 ? 256 : b->cap * 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, s, len + 1);
	b->len += len;
}

/*
 * Join a type word and up to three fields (the rest NULL) into an entry;
 * NULL if the result would not decode as exactly that.
 */
static char *
cfsm_enc(const char *word, const char *f1, const char *f2, const char *f3)
{
	struct cfsm_entry	 e;
	const char		*cause;
	char			*s, *copy;
	size_t			 len;

	if (f1 == NULL)
		return (NULL);
	if (f2 == NULL)
		xasprintf(&s, "%s\t%s", word, f1);
	else if (f3 == NULL)
		xasprintf(&s, "%s\t%s\t%s", word, f1, f2);
	else
		xasprintf(&s, "%s\t%s\t%s\t%s", word, f1, f2, f3);
	len = strlen(s) + 1;
	copy = xstrdup(s);
	if (cfsm_decode(copy, &e, &cause) == -1) {
		freezero(copy, len);
		freezero(s, len);
		return (NULL);
	}
	freezero(copy, len);	/* a blob is a credential */
	return (s);
}

/* The entry that sets the cluster's domain and digest key. */
char *
cfsm_enc_init(const char *domain, const char *keyhex)
{
	if (domain == NULL || keyhex == NULL)
		return (NULL);
	return (cfsm_enc("init", domain, keyhex, NULL));
}

/* The entry that creates or replaces an account. */
char *
cfsm_enc_user_set(const char *user, const char *blob)
{
	if (user == NULL || blob == NULL)
		return (NULL);
	return (cfsm_enc("user-set", user, blob, NULL));
}

/* The entry that removes an account. */
char *
cfsm_enc_user_del(const char *user)
{
	return (cfsm_enc("user-del", user, NULL, NULL));
}

/*
 * The entry that records the digest of call bridge cb's secret on node,
 * or with digest NULL that cb is gone from node.
 */
char *
cfsm_enc_digest(uint64_t node, const char *cb, const char *digest)
{
	char	 id[32];

	if (cb == NULL)
		return (NULL);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)node);
	if (digest == NULL)
		return (cfsm_enc("digest-del", id, cb, NULL));
	return (cfsm_enc("digest-set", id, cb, digest));
}

/*
 * The entry that sets owner's roster item for contact jid; item as from
 * cfsm_roster_enc.
 */
char *
cfsm_enc_roster_set(const char *owner, const char *jid, const char *item)
{
	if (owner == NULL || jid == NULL || item == NULL)
		return (NULL);
	return (cfsm_enc("roster-set", owner, jid, item));
}

/* The entry that removes owner's roster item for contact jid. */
char *
cfsm_enc_roster_del(const char *owner, const char *jid)
{
	if (owner == NULL || jid == NULL)
		return (NULL);
	return (cfsm_enc("roster-del", owner, jid, NULL));
}

/* The entry that stores owner's offline message (stanza serialised). */
char *
cfsm_enc_offline_put(const char *owner, const char *stanza)
{
	char	*esc, *e;

	if (owner == NULL || stanza == NULL)
		return (NULL);
	esc = cfsm_off_esc(stanza);
	e = cfsm_enc("offline-put", owner, esc, NULL);
	free(esc);
	return (e);
}

/* The entry that removes owner's offline messages up to and with id. */
char *
cfsm_enc_offline_del(const char *owner, uint64_t id)
{
	char	 s[32];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)id);
	return (cfsm_enc("offline-del", owner, s, NULL));
}

/*
 * The entry that sets every member's raft timers; NULL if they are out
 * of range.
 */
char *
cfsm_enc_timers(int hb, int el)
{
	char	 a[16], b[16];

	snprintf(a, sizeof(a), "%d", hb);
	snprintf(b, sizeof(b), "%d", el);
	return (cfsm_enc("timers", a, b, NULL));
}

/* The entry that says node has published its digests. */
char *
cfsm_enc_published(uint64_t node)
{
	char	 id[32];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)node);
	return (cfsm_enc("published", id, NULL, NULL));
}

/* The entry that drops every digest of a node that left. */
char *
cfsm_enc_forget(uint64_t node)
{
	char	 id[32];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)node);
	return (cfsm_enc("forget", id, NULL, NULL));
}

/*
 * The entry that pins a member: node id, cluster address and identity
 * (64 lowercase hex digits). NULL if any of them is malformed.
 */
char *
cfsm_enc_member(uint64_t node, const char *addr, const char *ident)
{
	char	 id[32];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)node);
	return (cfsm_enc("member", id, addr, ident));
}

/* The entry that keeps a removed member's identity from joining. */
char *
cfsm_enc_revoke(const char *ident)
{
	return (cfsm_enc("revoke", ident, NULL, NULL));
}

/* The entry that lets every removed identity join again. */
char *
cfsm_enc_revoke_clear(void)
{
	return (cfsm_enc("revoke-clear", "all", NULL, NULL));
}

/*
 * Whether a member (node id) may put entry data into the log through the
 * leader (APPLY): not the leader's own entries (init, member, forget:
 * who is a member, with which certificate), and of entries about one node
 * only those about itself; in a session's envelope or not. 0, or -1 and
 * why in buf.
 */
int
cfsm_entry_allowed(const char *data, uint64_t id, char *buf, size_t len)
{
	struct cfsm_entry	 e;
	struct cfsm_env		 env;
	const char		*cause;
	char			*copy, *line;
	int			 rv = -1;

	line = copy = xstrdup(data);
	if (line[0] == '@' && cfsm_env_split(copy, &env, &line, &cause) == -1)
		snprintf(buf, len, "%s", cause);
	else if (line != copy && strncmp(line, "session-open\t", 13) == 0)
		snprintf(buf, len, "bad envelope: around a session-open");
	else if (cfsm_decode(line, &e, &cause) == -1)
		snprintf(buf, len, "bad entry: %s", cause);
	else if (e.type == CE_INIT || e.type == CE_MEMBER ||
	    e.type == CE_FORGET || e.type == CE_REVOKE ||
	    e.type == CE_REVOKE_CLEAR)
		snprintf(buf, len, "only the leader writes that entry");
	else if ((e.type == CE_DIGEST_SET || e.type == CE_DIGEST_DEL ||
	    e.type == CE_PUBLISHED) && e.node != id)
		snprintf(buf, len, "a node writes that entry only of itself");
	else
		rv = 0;
	free(copy);
	return (rv);
}
