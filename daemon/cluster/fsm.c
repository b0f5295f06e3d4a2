/*
 * The cluster's replicated state machine (DESIGN.md section 7): the XMPP
 * domain and digest key, the accounts with their rosters, and a digest of
 * each node's call-bridge secrets. State lives in memory; raft applies
 * the same entries in the same order on every node, and a snapshot
 * carries all of it to a node that is too far behind.
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
 *	published	node
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
 * A roster item holds no more than the caps of db.h allow (DB_ROSTER_*:
 * JID, name and group bytes, groups per item), or its entry is bad; a
 * roster-set that would add an item past DB_ROSTER_MAX_ITEMS is ignored.
 * The leader checks the same caps before it submits an item.
 *
 * A roster belongs to an account: roster-set for an owner the state does
 * not know is ignored, and user-del drops the owner's roster (the database
 * cascades likewise).
 *
 * Trailing NULs are allowed: raft wants entries padded to a multiple of
 * 8 bytes, and callers pad with NULs. An entry this version does not know
 * (a newer node wrote it) or cannot parse is logged and skipped, never
 * fatal.
 *
 * A member entry pins the certificate of a node that joined: its cluster
 * address and identity (the SHA-256 of its certificate's public key, 64
 * lowercase hex digits). The cluster port lets only the node with that key
 * speak for that id and address; forget drops the pin with the digests.
 *
 * A snapshot is the header line "cfsm 3" if the state holds timers or a
 * published node, else "cfsm 2" if any member is pinned, else "cfsm 1"
 * (the formats before timers and before pins, still written and read:
 * a state that has neither is written as before), then one
 * "init" line if the cluster has one, one "member" line per pinned node
 * (at least one after "cfsm 2", none after "cfsm 1"), one "user-set"
 * line per account, one "digest-set" line per digest, one "roster-set"
 * line per roster item, and after "cfsm 3" at most one "timers" line and
 * one "published" line per published node, each ending in LF. After
 * "cfsm 3" member lines are allowed but not required.
 */
#include <sys/tree.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <raft.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "xmalloc.h"

#define CFSM_SNAP_HEADER4	"cfsm 4"	/* revoke */
#define CFSM_SNAP_HEADER3	"cfsm 3"	/* timers, published */
#define CFSM_SNAP_HEADER	"cfsm 2"
#define CFSM_SNAP_HEADER1	"cfsm 1"	/* before member lines */
#define CFSM_IDENT_LEN		64	/* hex digits of an identity */
#define CFSM_MAX_FIELDS		4	/* type word included */
#define CFSM_DIGEST_BYTES	16	/* of the HMAC, shown as hex */

/* Entry types. */
#define CE_INIT		1
#define CE_USER_SET	2
#define CE_USER_DEL	3
#define CE_DIGEST_SET	4
#define CE_DIGEST_DEL	5
#define CE_FORGET	6
#define CE_ROSTER_SET	7
#define CE_ROSTER_DEL	8
#define CE_MEMBER	9
#define CE_TIMERS	10
#define CE_PUBLISHED	11
#define CE_REVOKE	12
#define CE_REVOKE_CLEAR	13

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
};

/* A decoded entry; the strings point into the decoder's copy. */
struct cfsm_entry {
	int		 type;
	uint64_t	 node;		/* digest-set, digest-del, forget,
					   member */
	const char	*a;		/* domain, user, cbname, owner,
					   addr or identity (revoke) */
	const char	*b;		/* keyhex, blob, digest, jid or
					   identity */
	const char	*c;		/* roster item */
	int		 hb;		/* timers */
	int		 el;
};

struct cfsm_user {
	RB_ENTRY(cfsm_user)	 entry;
	char			*name;
	char			*blob;
};

struct cfsm_dig {
	RB_ENTRY(cfsm_dig)	 entry;
	uint64_t		 node;
	char			*cb;
	char			*digest;
};

/* One roster item: owner's contact jid, item encoded as in the log. */
struct cfsm_ros {
	RB_ENTRY(cfsm_ros)	 entry;
	char			*owner;
	char			*jid;
	char			*item;
};

/* A member's pinned certificate identity and address. */
struct cfsm_mem {
	RB_ENTRY(cfsm_mem)	 entry;
	uint64_t		 node;
	char			*addr;
	char			*ident;
};

RB_HEAD(cfsm_user_tree, cfsm_user);
RB_HEAD(cfsm_mem_tree, cfsm_mem);
RB_HEAD(cfsm_dig_tree, cfsm_dig);
RB_HEAD(cfsm_ros_tree, cfsm_ros);

/* Everything replicated: what a snapshot holds. */
struct cfsm_state {
	char			*domain;
	char			*key;
	struct cfsm_user_tree	 users;
	struct cfsm_dig_tree	 digs;
	struct cfsm_ros_tree	 rosters;	/* by owner, then jid */
	struct cfsm_mem_tree	 members;
	int			 hb;		/* timers, 0 if none */
	int			 el;
	uint64_t		*pub;		/* published nodes */
	size_t			 npub;
	char			**revoked;	/* removed members' */
	size_t			 nrevoked;
};

struct cfsm {
	struct raft_fsm		 fsm;
	struct cfsm_sink	 sink;
	struct cfsm_state	 st;
};

/* A growing text buffer. */
struct cfsm_buf {
	char			*p;
	size_t			 len;
	size_t			 cap;
};

static int	 cfsm_user_cmp(struct cfsm_user *, struct cfsm_user *);
static int	 cfsm_dig_cmp(struct cfsm_dig *, struct cfsm_dig *);
static int	 cfsm_ros_cmp(struct cfsm_ros *, struct cfsm_ros *);
static int	 cfsm_mem_cmp(struct cfsm_mem *, struct cfsm_mem *);
static struct cfsm_mem *cfsm_state_mem(const struct cfsm_state *, uint64_t);
static void	 cfsm_mem_free(struct cfsm_mem_tree *, struct cfsm_mem *);
RB_PROTOTYPE(cfsm_mem_tree, cfsm_mem, entry, cfsm_mem_cmp);
RB_PROTOTYPE(cfsm_user_tree, cfsm_user, entry, cfsm_user_cmp);
RB_PROTOTYPE(cfsm_dig_tree, cfsm_dig, entry, cfsm_dig_cmp);
RB_PROTOTYPE(cfsm_ros_tree, cfsm_ros, entry, cfsm_ros_cmp);

static int	 cfsm_field_ok(const char *);
static int	 cfsm_hex_ok(const char *);
static int	 cfsm_node_parse(const char *, uint64_t *);
static int	 cfsm_sub_ok(const char *);
static int	 cfsm_ms_parse(const char *);
static int	 cfsm_state_pub(const struct cfsm_state *, uint64_t);
static int	 cfsm_state_revoked(const struct cfsm_state *, const char *);
static int	 cfsm_pct_keep(int);
static void	 cfsm_pct_add(struct cfsm_buf *, const char *);
static int	 cfsm_xdigit(int);
static char	*cfsm_pct_dec(const char *);
static int	 cfsm_roster_caps(const struct db_roster *);
static int	 cfsm_roster_full(const struct cfsm_state *, const char *);
static int	 cfsm_decode(char *, struct cfsm_entry *, const char **);
static char	*cfsm_copy(const void *, size_t, const char **);
static char	*cfsm_enc(const char *, const char *, const char *,
		    const char *);
static void	 cfsm_state_init(struct cfsm_state *);
static void	 cfsm_state_clear(struct cfsm_state *);
static struct cfsm_user *cfsm_state_user(const struct cfsm_state *,
		    const char *);
static struct cfsm_dig *cfsm_state_dig(const struct cfsm_state *, uint64_t,
		    const char *);
static struct cfsm_ros *cfsm_state_ros(const struct cfsm_state *,
		    const char *, const char *);
static void	 cfsm_ros_free(struct cfsm_ros_tree *, struct cfsm_ros *);
static int	 cfsm_state_drop_roster(struct cfsm_state *, const char *);
static int	 cfsm_state_apply(struct cfsm_state *,
		    const struct cfsm_entry *);
static void	 cfsm_buf_add(struct cfsm_buf *, const char *);
static void	 cfsm_buf_line(struct cfsm_buf *, const char *, const char *,
		    const char *, const char *);
static int	 cfsm_state_load(struct cfsm_state *, char *, const char **);
static int	 cfsm_raft_apply(struct raft_fsm *, const struct raft_buffer *,
		    void **);
static int	 cfsm_raft_snapshot(struct raft_fsm *, struct raft_buffer *[],
		    unsigned *);
static int	 cfsm_raft_restore(struct raft_fsm *, struct raft_buffer *);
static int	 cfsm_strcmp(const void *, const void *);
static int	 cfsm_hex_decode(const char *, unsigned char **, size_t *);

RB_GENERATE(cfsm_user_tree, cfsm_user, entry, cfsm_user_cmp);
RB_GENERATE(cfsm_dig_tree, cfsm_dig, entry, cfsm_dig_cmp);
RB_GENERATE(cfsm_ros_tree, cfsm_ros, entry, cfsm_ros_cmp);
RB_GENERATE(cfsm_mem_tree, cfsm_mem, entry, cfsm_mem_cmp);

/* Accounts are ordered by user name. */
static int
cfsm_user_cmp(struct cfsm_user *a, struct cfsm_user *b)
{
	return (strcmp(a->name, b->name));
}

/* Digests are ordered by node, then call bridge name. */
static int
cfsm_dig_cmp(struct cfsm_dig *a, struct cfsm_dig *b)
{
	if (a->node != b->node)
		return (a->node < b->node ? -1 : 1);
	return (strcmp(a->cb, b->cb));
}

/* Roster items are ordered by owner, then contact. */
static int
cfsm_ros_cmp(struct cfsm_ros *a, struct cfsm_ros *b)
{
	int	 d;

	if ((d = strcmp(a->owner, b->owner)) != 0)
		return (d);
	return (strcmp(a->jid, b->jid));
}

/* Members are ordered by node id. */
static int
cfsm_mem_cmp(struct cfsm_mem *a, struct cfsm_mem *b)
{
	return (a->node < b->node ? -1 : a->node > b->node);
}

/* A field is not empty and holds no tab, CR or LF. */
static int
cfsm_field_ok(const char *s)
{
	return (s != NULL && *s != '\0' && strpbrk(s, "\t\r\n") == NULL);
}

/* Hex: not empty, an even number of hex digits. */
static int
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
static int
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
static char *
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

/* Whether node has published its digests. */
static int
cfsm_state_pub(const struct cfsm_state *st, uint64_t node)
{
	size_t	 i;

	for (i = 0; i < st->npub; i++)
		if (st->pub[i] == node)
			return (1);
	return (0);
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

/* An empty state. */
static void
cfsm_state_init(struct cfsm_state *st)
{
	st->domain = NULL;
	st->key = NULL;
	RB_INIT(&st->users);
	RB_INIT(&st->digs);
	RB_INIT(&st->rosters);
	RB_INIT(&st->members);
	st->hb = st->el = 0;
	st->pub = NULL;
	st->npub = 0;
	st->revoked = NULL;
	st->nrevoked = 0;
}

/* Free everything in st and leave it empty. */
static void
cfsm_state_clear(struct cfsm_state *st)
{
	struct cfsm_user	*u, *unext;
	struct cfsm_dig		*d, *dnext;
	struct cfsm_ros		*r, *rnext;
	struct cfsm_mem		*m, *mnext;
	size_t			 i;

	RB_FOREACH_SAFE(m, cfsm_mem_tree, &st->members, mnext)
		cfsm_mem_free(&st->members, m);
	free(st->pub);
	st->pub = NULL;
	st->npub = 0;
	for (i = 0; i < st->nrevoked; i++)
		free(st->revoked[i]);
	free(st->revoked);
	st->revoked = NULL;
	st->nrevoked = 0;
	st->hb = st->el = 0;
	RB_FOREACH_SAFE(r, cfsm_ros_tree, &st->rosters, rnext)
		cfsm_ros_free(&st->rosters, r);
	RB_FOREACH_SAFE(u, cfsm_user_tree, &st->users, unext) {
		RB_REMOVE(cfsm_user_tree, &st->users, u);
		free(u->name);
		freezero(u->blob, strlen(u->blob));
		free(u);
	}
	RB_FOREACH_SAFE(d, cfsm_dig_tree, &st->digs, dnext) {
		RB_REMOVE(cfsm_dig_tree, &st->digs, d);
		free(d->cb);
		free(d->digest);
		free(d);
	}
	free(st->domain);
	if (st->key != NULL)
		freezero(st->key, strlen(st->key));
	cfsm_state_init(st);
}

/* The account called name, or NULL. */
static struct cfsm_user *
cfsm_state_user(const struct cfsm_state *st, const char *name)
{
	struct cfsm_user_tree	*head;
	struct cfsm_user	 key;

	/* RB_FIND changes nothing but wants a non-const head. */
	head = (struct cfsm_user_tree *)(uintptr_t)&st->users;
	key.name = (char *)(uintptr_t)name;
	return (RB_FIND(cfsm_user_tree, head, &key));
}

/* The digest of cb on node, or NULL. */
static struct cfsm_dig *
cfsm_state_dig(const struct cfsm_state *st, uint64_t node, const char *cb)
{
	struct cfsm_dig_tree	*head;
	struct cfsm_dig		 key;

	head = (struct cfsm_dig_tree *)(uintptr_t)&st->digs;
	key.node = node;
	key.cb = (char *)(uintptr_t)cb;
	return (RB_FIND(cfsm_dig_tree, head, &key));
}

/* owner's roster item for jid, or NULL. */
static struct cfsm_ros *
cfsm_state_ros(const struct cfsm_state *st, const char *owner,
    const char *jid)
{
	struct cfsm_ros_tree	*head;
	struct cfsm_ros		 key;

	head = (struct cfsm_ros_tree *)(uintptr_t)&st->rosters;
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)jid;
	return (RB_FIND(cfsm_ros_tree, head, &key));
}

/* The pinned member node, or NULL. */
static struct cfsm_mem *
cfsm_state_mem(const struct cfsm_state *st, uint64_t node)
{
	struct cfsm_mem_tree	*head;
	struct cfsm_mem		 key;

	head = (struct cfsm_mem_tree *)(uintptr_t)&st->members;
	key.node = node;
	return (RB_FIND(cfsm_mem_tree, head, &key));
}

/* Take member m out of head and free it. */
static void
cfsm_mem_free(struct cfsm_mem_tree *head, struct cfsm_mem *m)
{
	RB_REMOVE(cfsm_mem_tree, head, m);
	free(m->addr);
	free(m->ident);
	free(m);
}

/* Take roster item r out of head and free it. */
static void
cfsm_ros_free(struct cfsm_ros_tree *head, struct cfsm_ros *r)
{
	RB_REMOVE(cfsm_ros_tree, head, r);
	free(r->owner);
	free(r->jid);
	free(r->item);
	free(r);
}

/* Drop owner's whole roster. 1 if there was one, 0 if not. */
static int
cfsm_state_drop_roster(struct cfsm_state *st, const char *owner)
{
	struct cfsm_ros		 key, *r, *next;
	int			 changed = 0;

	/* "" sorts first: the first item at or after it is owner's first. */
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)"";
	for (r = RB_NFIND(cfsm_ros_tree, &st->rosters, &key);
	    r != NULL && strcmp(r->owner, owner) == 0; r = next) {
		next = RB_NEXT(cfsm_ros_tree, &st->rosters, r);
		cfsm_ros_free(&st->rosters, r);
		changed = 1;
	}
	return (changed);
}

/* Whether owner's roster has DB_ROSTER_MAX_ITEMS items already. */
static int
cfsm_roster_full(const struct cfsm_state *st, const char *owner)
{
	struct cfsm_ros_tree	*head;
	struct cfsm_ros		 key, *r;
	int			 n = 0;

	head = (struct cfsm_ros_tree *)(uintptr_t)&st->rosters;
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)"";
	for (r = RB_NFIND(cfsm_ros_tree, head, &key);
	    r != NULL && strcmp(r->owner, owner) == 0;
	    r = RB_NEXT(cfsm_ros_tree, head, r))
		if (++n >= DB_ROSTER_MAX_ITEMS)
			return (1);
	return (0);
}

/* Apply a decoded entry to st. 1 if st changed, 0 if not. */
static int
cfsm_state_apply(struct cfsm_state *st, const struct cfsm_entry *e)
{
	struct cfsm_user	*u;
	struct cfsm_dig		*d, *next;
	struct cfsm_ros		*r;
	struct cfsm_mem		*m;
	size_t			 i;
	int			 changed = 0;

	switch (e->type) {
	case CE_TIMERS:
		if (st->hb == e->hb && st->el == e->el)
			return (0);
		st->hb = e->hb;
		st->el = e->el;
		return (1);
	case CE_REVOKE:
		if (cfsm_state_revoked(st, e->a))
			return (0);
		st->revoked = xreallocarray(st->revoked, st->nrevoked + 1,
		    sizeof(*st->revoked));
		st->revoked[st->nrevoked++] = xstrdup(e->a);
		return (1);
	case CE_REVOKE_CLEAR:
		if (st->nrevoked == 0)
			return (0);
		for (i = 0; i < st->nrevoked; i++)
			free(st->revoked[i]);
		free(st->revoked);
		st->revoked = NULL;
		st->nrevoked = 0;
		return (1);
	case CE_PUBLISHED:
		if (cfsm_state_pub(st, e->node))
			return (0);
		st->pub = xreallocarray(st->pub, st->npub + 1,
		    sizeof(*st->pub));
		st->pub[st->npub++] = e->node;
		return (1);
	case CE_MEMBER:
		if ((m = cfsm_state_mem(st, e->node)) != NULL) {
			if (strcmp(m->addr, e->a) == 0 &&
			    strcmp(m->ident, e->b) == 0)
				return (0);
			free(m->addr);
			free(m->ident);
		} else {
			m = xcalloc(1, sizeof(*m));
			m->node = e->node;
			RB_INSERT(cfsm_mem_tree, &st->members, m);
		}
		m->addr = xstrdup(e->a);
		m->ident = xstrdup(e->b);
		return (1);
	case CE_INIT:
		if (st->domain != NULL) {
			if (strcmp(st->domain, e->a) != 0)
				log_warnx("cfsm_apply: domain %s ignored, the "
				    "cluster's is %s", e->a, st->domain);
			return (0);
		}
		st->domain = xstrdup(e->a);
		st->key = xstrdup(e->b);
		return (1);
	case CE_USER_SET:
		if ((u = cfsm_state_user(st, e->a)) != NULL) {
			if (strcmp(u->blob, e->b) == 0)
				return (0);
			freezero(u->blob, strlen(u->blob));
			u->blob = xstrdup(e->b);
			return (1);
		}
		u = xcalloc(1, sizeof(*u));
		u->name = xstrdup(e->a);
		u->blob = xstrdup(e->b);
		RB_INSERT(cfsm_user_tree, &st->users, u);
		return (1);
	case CE_USER_DEL:
		if ((u = cfsm_state_user(st, e->a)) == NULL)
			return (0);
		cfsm_state_drop_roster(st, u->name);
		RB_REMOVE(cfsm_user_tree, &st->users, u);
		free(u->name);
		freezero(u->blob, strlen(u->blob));
		free(u);
		return (1);
	case CE_DIGEST_SET:
		if ((d = cfsm_state_dig(st, e->node, e->a)) != NULL) {
			if (strcmp(d->digest, e->b) == 0)
				return (0);
			free(d->digest);
			d->digest = xstrdup(e->b);
			return (1);
		}
		d = xcalloc(1, sizeof(*d));
		d->node = e->node;
		d->cb = xstrdup(e->a);
		d->digest = xstrdup(e->b);
		RB_INSERT(cfsm_dig_tree, &st->digs, d);
		return (1);
	case CE_DIGEST_DEL:
		if ((d = cfsm_state_dig(st, e->node, e->a)) == NULL)
			return (0);
		RB_REMOVE(cfsm_dig_tree, &st->digs, d);
		free(d->cb);
		free(d->digest);
		free(d);
		return (1);
	case CE_FORGET:
		if ((m = cfsm_state_mem(st, e->node)) != NULL) {
			cfsm_mem_free(&st->members, m);
			changed = 1;
		}
		for (i = 0; i < st->npub; i++) {
			if (st->pub[i] != e->node)
				continue;
			st->pub[i] = st->pub[--st->npub];
			changed = 1;
			break;
		}
		RB_FOREACH_SAFE(d, cfsm_dig_tree, &st->digs, next) {
			if (d->node != e->node)
				continue;
			RB_REMOVE(cfsm_dig_tree, &st->digs, d);
			free(d->cb);
			free(d->digest);
			free(d);
			changed = 1;
		}
		return (changed);
	case CE_ROSTER_SET:
		if (cfsm_state_user(st, e->a) == NULL)
			return (0);
		if ((r = cfsm_state_ros(st, e->a, e->b)) != NULL) {
			if (strcmp(r->item, e->c) == 0)
				return (0);
			free(r->item);
			r->item = xstrdup(e->c);
			return (1);
		}
		if (cfsm_roster_full(st, e->a))
			return (0);
		r = xcalloc(1, sizeof(*r));
		r->owner = xstrdup(e->a);
		r->jid = xstrdup(e->b);
		r->item = xstrdup(e->c);
		RB_INSERT(cfsm_ros_tree, &st->rosters, r);
		return (1);
	case CE_ROSTER_DEL:
		if ((r = cfsm_state_ros(st, e->a, e->b)) == NULL)
			return (0);
		cfsm_ros_free(&st->rosters, r);
		return (1);
	}
	return (0);
}

/* A replicated state machine with no state yet; sink may be NULL. */
struct cfsm *
cfsm_new(const struct cfsm_sink *sink)
{
	struct cfsm	*c;

	c = xcalloc(1, sizeof(*c));
	if (sink != NULL)
		c->sink = *sink;
	cfsm_state_init(&c->st);
	c->fsm.version = 1;
	c->fsm.data = c;
	c->fsm.apply = cfsm_raft_apply;
	c->fsm.snapshot = cfsm_raft_snapshot;
	c->fsm.restore = cfsm_raft_restore;
	return (c);
}

/* Free c; raft must be done with its raft_fsm. */
void
cfsm_free(struct cfsm *c)
{
	if (c == NULL)
		return;
	cfsm_state_clear(&c->st);
	free(c);
}

/* The raft_fsm (version 1) bound to c, owned by c. */
struct raft_fsm *
cfsm_raft(struct cfsm *c)
{
	return (&c->fsm);
}

/*
 * raft's apply: one committed entry. Bad entries are logged and skipped.
 * The sink hears every account and roster entry, even one that changes
 * nothing, so a node's database converges (but not a roster-set for an
 * unknown account: the state ignores it); changed() only follows a real
 * change of anything but a roster.
 */
static int
cfsm_raft_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
    void **result)
{
	struct cfsm		*c = fsm->data;
	struct cfsm_entry	 e;
	const char		*cause = NULL;
	char			*line;
	int			 changed;

	if (result != NULL)
		*result = NULL;
	if ((line = cfsm_copy(buf->base, buf->len, &cause)) == NULL ||
	    cfsm_decode(line, &e, &cause) == -1) {
		log_warnx("cfsm_apply: entry of %zu bytes ignored: %s",
		    buf->len, cause);
		free(line);
		return (0);
	}
	changed = cfsm_state_apply(&c->st, &e);
	switch (e.type) {
	case CE_USER_SET:
		if (c->sink.user_set != NULL)
			c->sink.user_set(c->sink.arg, e.a, e.b);
		break;
	case CE_USER_DEL:
		if (c->sink.user_del != NULL)
			c->sink.user_del(c->sink.arg, e.a);
		break;
	case CE_ROSTER_SET:
		if (cfsm_state_user(&c->st, e.a) == NULL)
			log_debug("cfsm_apply: roster item of unknown account "
			    "%s ignored", e.a);
		else if (cfsm_state_ros(&c->st, e.a, e.b) == NULL)
			log_warnx("cfsm_apply: roster item of %s ignored: "
			    "roster full", e.a);
		else if (c->sink.roster_set != NULL)
			c->sink.roster_set(c->sink.arg, e.a, e.b, e.c);
		break;
	case CE_ROSTER_DEL:
		if (c->sink.roster_del != NULL)
			c->sink.roster_del(c->sink.arg, e.a, e.b);
		break;
	}
	if (changed && e.type != CE_ROSTER_SET && e.type != CE_ROSTER_DEL &&
	    c->sink.changed != NULL)
		c->sink.changed(c->sink.arg);
	freezero(line, buf->len);	/* the copy holds len + 1 bytes */
	return (0);
}

/* Append a string to b. */
static void
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
 * Append one snapshot line: a type word and its fields (the rest NULL,
 * f3 only after f2).
 */
static void
cfsm_buf_line(struct cfsm_buf *b, const char *word, const char *f1,
    const char *f2, const char *f3)
{
	cfsm_buf_add(b, word);
	cfsm_buf_add(b, "\t");
	cfsm_buf_add(b, f1);
	if (f2 != NULL) {
		cfsm_buf_add(b, "\t");
		cfsm_buf_add(b, f2);
	}
	if (f3 != NULL) {
		cfsm_buf_add(b, "\t");
		cfsm_buf_add(b, f3);
	}
	cfsm_buf_add(b, "\n");
}

/* raft's snapshot: all state in one buffer from raft_malloc. */
static int
cfsm_raft_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
    unsigned *n_bufs)
{
	struct cfsm		*c = fsm->data;
	struct cfsm_buf		 b = { NULL, 0, 0 };
	struct cfsm_user	*u;
	struct cfsm_dig		*d;
	struct cfsm_ros		*r;
	struct cfsm_mem		*m;
	char			 id[32], el[16];
	size_t			 i;

	if (c->st.nrevoked > 0)
		cfsm_buf_add(&b, CFSM_SNAP_HEADER4 "\n");
	else if (c->st.hb != 0 || c->st.npub > 0)
		cfsm_buf_add(&b, CFSM_SNAP_HEADER3 "\n");
	else
		cfsm_buf_add(&b, RB_EMPTY(&c->st.members) ?
		    CFSM_SNAP_HEADER1 "\n" : CFSM_SNAP_HEADER "\n");
	if (c->st.domain != NULL)
		cfsm_buf_line(&b, "init", c->st.domain, c->st.key, NULL);
	RB_FOREACH(m, cfsm_mem_tree, &c->st.members) {
		snprintf(id, sizeof(id), "%llu", (unsigned long long)m->node);
		cfsm_buf_line(&b, "member", id, m->addr, m->ident);
	}
	RB_FOREACH(u, cfsm_user_tree, &c->st.users)
		cfsm_buf_line(&b, "user-set", u->name, u->blob, NULL);
	RB_FOREACH(d, cfsm_dig_tree, &c->st.digs) {
		snprintf(id, sizeof(id), "%llu", (unsigned long long)d->node);
		cfsm_buf_line(&b, "digest-set", id, d->cb, d->digest);
	}
	RB_FOREACH(r, cfsm_ros_tree, &c->st.rosters)
		cfsm_buf_line(&b, "roster-set", r->owner, r->jid, r->item);
	if (c->st.hb != 0) {
		snprintf(id, sizeof(id), "%d", c->st.hb);
		snprintf(el, sizeof(el), "%d", c->st.el);
		cfsm_buf_line(&b, "timers", id, el, NULL);
	}
	for (i = 0; i < c->st.npub; i++) {
		snprintf(id, sizeof(id), "%llu",
		    (unsigned long long)c->st.pub[i]);
		cfsm_buf_line(&b, "published", id, NULL, NULL);
	}
	for (i = 0; i < c->st.nrevoked; i++)
		cfsm_buf_line(&b, "revoke", c->st.revoked[i], NULL, NULL);

	*bufs = NULL;
	*n_bufs = 0;
	if ((*bufs = raft_malloc(sizeof(**bufs))) == NULL)
		goto nomem;
	if (((*bufs)[0].base = raft_malloc(b.len)) == NULL) {
		raft_free(*bufs);
		*bufs = NULL;
		goto nomem;
	}
	memcpy((*bufs)[0].base, b.p, b.len);
	(*bufs)[0].len = b.len;
	*n_bufs = 1;
	freezero(b.p, b.cap);
	return (0);
nomem:
	freezero(b.p, b.cap);
	return (RAFT_NOMEM);
}

/*
 * Fill the empty st from snapshot text (writable, NUL-terminated). 0, or
 * -1 with *cause set; st then holds a part and must be cleared.
 */
static int
cfsm_state_load(struct cfsm_state *st, char *text, const char **cause)
{
	struct cfsm_entry	 e;
	char			*line;
	size_t			 len;
	int			 v1, v3, v4;

	len = strlen(text);
	if (len == 0 || text[len - 1] != '\n') {
		*cause = "no LF at the end";
		return (-1);
	}
	text[len - 1] = '\0';
	line = strsep(&text, "\n");
	v1 = strcmp(line, CFSM_SNAP_HEADER1) == 0;
	v4 = strcmp(line, CFSM_SNAP_HEADER4) == 0;
	v3 = v4 || strcmp(line, CFSM_SNAP_HEADER3) == 0;
	if (!v1 && !v3 && strcmp(line, CFSM_SNAP_HEADER) != 0) {
		*cause = "unknown header";
		return (-1);
	}
	while ((line = strsep(&text, "\n")) != NULL) {
		if (cfsm_decode(line, &e, cause) == -1)
			return (-1);
		if (e.type != CE_INIT && e.type != CE_USER_SET &&
		    e.type != CE_DIGEST_SET && e.type != CE_ROSTER_SET &&
		    (e.type != CE_MEMBER || v1) &&
		    ((e.type != CE_TIMERS && e.type != CE_PUBLISHED) || !v3) &&
		    (e.type != CE_REVOKE || !v4)) {
			*cause = "entry type not allowed";
			return (-1);
		}
		if (e.type == CE_MEMBER && cfsm_state_mem(st, e.node) != NULL) {
			*cause = "second member line for a node";
			return (-1);
		}
		if (e.type == CE_INIT && st->domain != NULL) {
			*cause = "second init";
			return (-1);
		}
		if (e.type == CE_TIMERS && st->hb != 0) {
			*cause = "second timers";
			return (-1);
		}
		if (e.type == CE_PUBLISHED && cfsm_state_pub(st, e.node)) {
			*cause = "second published line for a node";
			return (-1);
		}
		if (e.type == CE_ROSTER_SET &&
		    cfsm_state_user(st, e.a) == NULL) {
			*cause = "roster item before its account";
			return (-1);
		}
		cfsm_state_apply(st, &e);
	}
	if (!v1 && !v3 && RB_EMPTY(&st->members)) {
		*cause = "no member line after a cfsm 2 header";
		return (-1);
	}
	return (0);
}

/*
 * raft's restore: replace all state with a snapshot's. On success the
 * buffer is ours to raft_free; on failure (state unchanged) raft frees it.
 * The sink hears the removal of the accounts that are gone, every account,
 * the removal of the roster items that are gone (even those of a removed
 * account), then every roster item.
 */
static int
cfsm_raft_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct cfsm		*c = fsm->data;
	struct cfsm_state	 st, old;
	struct cfsm_user	*u;
	struct cfsm_ros		*r;
	const char		*cause = NULL;
	char			*text;

	cfsm_state_init(&st);
	if ((text = cfsm_copy(buf->base, buf->len, &cause)) == NULL ||
	    cfsm_state_load(&st, text, &cause) == -1) {
		log_warnx("cfsm_restore: snapshot of %zu bytes refused: %s",
		    buf->len, cause);
		cfsm_state_clear(&st);
		if (text != NULL)
			freezero(text, buf->len);
		return (RAFT_MALFORMED);
	}
	freezero(text, buf->len);
	raft_free(buf->base);
	buf->base = NULL;

	/* Swap first, so the sink sees the new state if it looks. */
	old = c->st;		/* a tree head holds only its root */
	c->st = st;
	RB_FOREACH(u, cfsm_user_tree, &old.users) {
		if (cfsm_state_user(&c->st, u->name) == NULL &&
		    c->sink.user_del != NULL)
			c->sink.user_del(c->sink.arg, u->name);
	}
	if (c->sink.user_set != NULL) {
		RB_FOREACH(u, cfsm_user_tree, &c->st.users)
			c->sink.user_set(c->sink.arg, u->name, u->blob);
	}
	RB_FOREACH(r, cfsm_ros_tree, &old.rosters) {
		if (cfsm_state_ros(&c->st, r->owner, r->jid) == NULL &&
		    c->sink.roster_del != NULL)
			c->sink.roster_del(c->sink.arg, r->owner, r->jid);
	}
	if (c->sink.roster_set != NULL) {
		RB_FOREACH(r, cfsm_ros_tree, &c->st.rosters)
			c->sink.roster_set(c->sink.arg, r->owner, r->jid,
			    r->item);
	}
	cfsm_state_clear(&old);
	if (c->sink.changed != NULL)
		c->sink.changed(c->sink.arg);
	return (0);
}

/* The cluster's XMPP domain, NULL before the init entry. */
const char *
cfsm_domain(const struct cfsm *c)
{
	return (c->st.domain);
}

/* The cluster's digest key in hex, NULL before the init entry. */
const char *
cfsm_key(const struct cfsm *c)
{
	return (c->st.key);
}

/*
 * The pinned identity of member node (borrowed), and its address in *addr
 * if addr is not NULL; NULL if the node is not pinned.
 */
const char *
cfsm_member(const struct cfsm *c, uint64_t node, const char **addr)
{
	struct cfsm_mem	*m;

	if ((m = cfsm_state_mem(&c->st, node)) == NULL)
		return (NULL);
	if (addr != NULL)
		*addr = m->addr;
	return (m->ident);
}

/*
 * Every pinned member as member entries, one a line (LF-separated, no LF
 * at the end); "" if none. The caller frees.
 */
char *
cfsm_members_enc(const struct cfsm *c)
{
	struct cfsm_buf	 b = { NULL, 0, 0 };
	struct cfsm_mem	*m;
	char		 id[32];

	cfsm_buf_add(&b, "");
	RB_FOREACH(m, cfsm_mem_tree,
	    (struct cfsm_mem_tree *)(uintptr_t)&c->st.members) {
		if (b.len > 0)
			cfsm_buf_add(&b, "\n");
		snprintf(id, sizeof(id), "%llu", (unsigned long long)m->node);
		cfsm_buf_add(&b, "member\t");
		cfsm_buf_add(&b, id);
		cfsm_buf_add(&b, "\t");
		cfsm_buf_add(&b, m->addr);
		cfsm_buf_add(&b, "\t");
		cfsm_buf_add(&b, m->ident);
	}
	return (b.p);
}

/*
 * Add the member entries of text (as cfsm_members_enc writes them) to
 * c's pins; other lines are skipped. The number of members taken.
 */
int
cfsm_members_load(struct cfsm *c, const char *text)
{
	struct cfsm_entry	 e;
	const char		*cause;
	char			*copy, *p, *line;
	int			 n = 0;

	p = copy = xstrdup(text);
	while ((line = strsep(&p, "\n")) != NULL) {
		if (cfsm_decode(line, &e, &cause) == -1 ||
		    e.type != CE_MEMBER)
			continue;
		cfsm_state_apply(&c->st, &e);
		n++;
	}
	free(copy);
	return (n);
}

/* Whether any member identity is pinned. */
int
cfsm_member_any(const struct cfsm *c)
{
	return (!RB_EMPTY(&c->st.members));
}

/* The credential blob of an account, or NULL. */
const char *
cfsm_user(const struct cfsm *c, const char *user)
{
	struct cfsm_user	*u;

	if ((u = cfsm_state_user(&c->st, user)) == NULL)
		return (NULL);
	return (u->blob);
}

/*
 * All account names, sorted, NULL-terminated; *n (if not NULL) gets the
 * count. Free with util_free_argv.
 */
char **
cfsm_users(const struct cfsm *c, int *n)
{
	struct cfsm_user_tree	*head;
	struct cfsm_user	*u;
	char			**argv;
	int			 count = 0;

	head = (struct cfsm_user_tree *)(uintptr_t)&c->st.users;
	argv = xcalloc(1, sizeof(*argv));
	RB_FOREACH(u, cfsm_user_tree, head) {
		argv = xreallocarray(argv, count + 2, sizeof(*argv));
		argv[count++] = xstrdup(u->name);
		argv[count] = NULL;
	}
	if (n != NULL)
		*n = count;
	return (argv);
}

/* owner's roster item for contact jid as the log spells it, or NULL. */
const char *
cfsm_roster(const struct cfsm *c, const char *owner, const char *jid)
{
	struct cfsm_ros	*r;

	if ((r = cfsm_state_ros(&c->st, owner, jid)) == NULL)
		return (NULL);
	return (r->item);
}

/*
 * The contacts in owner's roster, sorted, NULL-terminated; *n (if not
 * NULL) gets the count. Free with util_free_argv.
 */
char **
cfsm_roster_jids(const struct cfsm *c, const char *owner, int *n)
{
	struct cfsm_ros_tree	*head;
	struct cfsm_ros		 key, *r;
	char			**argv;
	int			 count = 0;

	head = (struct cfsm_ros_tree *)(uintptr_t)&c->st.rosters;
	argv = xcalloc(1, sizeof(*argv));
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)"";
	for (r = RB_NFIND(cfsm_ros_tree, head, &key);
	    r != NULL && strcmp(r->owner, owner) == 0;
	    r = RB_NEXT(cfsm_ros_tree, head, r)) {
		argv = xreallocarray(argv, count + 2, sizeof(*argv));
		argv[count++] = xstrdup(r->jid);
		argv[count] = NULL;
	}
	if (n != NULL)
		*n = count;
	return (argv);
}

/* The cluster's raft timers: 0 with hb and el, -1 if it has none. */
int
cfsm_timers(const struct cfsm *c, int *hb, int *el)
{
	if (c->st.hb == 0)
		return (-1);
	*hb = c->st.hb;
	*el = c->st.el;
	return (0);
}

/*
 * Whether node has published the digests of all its call bridges once
 * (a published entry).
 */
int
cfsm_published(const struct cfsm *c, uint64_t node)
{
	return (cfsm_state_pub(&c->st, node));
}

/* Whether ident (a removed member's) may not join until cleared. */
int
cfsm_revoked(const struct cfsm *c, const char *ident)
{
	return (cfsm_state_revoked(&c->st, ident));
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

/* Whether ident is in st's removed identities. */
static int
cfsm_state_revoked(const struct cfsm_state *st, const char *ident)
{
	size_t	 i;

	for (i = 0; i < st->nrevoked; i++)
		if (strcmp(st->revoked[i], ident) == 0)
			return (1);
	return (0);
}

/* The digest of call bridge cb on node, or NULL. */
const char *
cfsm_digest(const struct cfsm *c, uint64_t node, const char *cb)
{
	struct cfsm_dig	*d;

	if ((d = cfsm_state_dig(&c->st, node, cb)) == NULL)
		return (NULL);
	return (d->digest);
}

/*
 * The names of the call bridges with a digest on node, sorted and
 * NULL-terminated; *n (if not NULL) gets the count. Free with
 * util_free_argv.
 */
char **
cfsm_digest_names(const struct cfsm *c, uint64_t node, int *n)
{
	struct cfsm_dig_tree	*head;
	struct cfsm_dig		*d;
	char			**argv;
	int			 count = 0;

	head = (struct cfsm_dig_tree *)(uintptr_t)&c->st.digs;
	argv = xcalloc(1, sizeof(*argv));
	RB_FOREACH(d, cfsm_dig_tree, head) {
		if (d->node != node)
			continue;
		argv = xreallocarray(argv, count + 2, sizeof(*argv));
		argv[count++] = xstrdup(d->cb);
		argv[count] = NULL;
	}
	if (n != NULL)
		*n = count;
	return (argv);
}

/* qsort comparison of two string pointers. */
static int
cfsm_strcmp(const void *a, const void *b)
{
	return (strcmp(*(const char * const *)a, *(const char * const *)b));
}

/*
 * Compare the call-bridge secret digests of the n members ids (shown as
 * names[i], or the id if names or names[i] is NULL). "consistent", or one
 * line per problem, call bridges in name order:
 *
 *	cb: differs on A, B	members whose digest is not the usual one
 *	cb: missing on C	members without cb
 *
 * The usual digest is the one most members have; on a tie, the lowest in
 * strcmp order. Members are listed in the order given. Digests of nodes
 * that are not members are ignored. The caller frees the result.
 */
char *
cfsm_secret_report(const struct cfsm *c, const uint64_t *ids,
    const char **names, int n)
{
	struct cfsm_buf		 b = { NULL, 0, 0 };
	struct cfsm_dig_tree	*head;
	struct cfsm_dig		*d;
	const char		**cbs = NULL, **digs = NULL, *usual;
	char			 idbuf[32];
	size_t			 ncbs = 0, i, u;
	int			 j, k, count, best, first;

	if (n <= 0)
		return (xstrdup("consistent"));

	/* Every call bridge named on some member, sorted, with repeats. */
	head = (struct cfsm_dig_tree *)(uintptr_t)&c->st.digs;
	RB_FOREACH(d, cfsm_dig_tree, head) {
		for (j = 0; j < n; j++)
			if (ids[j] == d->node)
				break;
		if (j == n)
			continue;
		cbs = xreallocarray(cbs, ncbs + 1, sizeof(*cbs));
		cbs[ncbs++] = d->cb;
	}
	if (ncbs > 0)
		qsort(cbs, ncbs, sizeof(*cbs), cfsm_strcmp);

	digs = xcalloc(n, sizeof(*digs));
	for (i = 0; i < ncbs; i = u) {
		for (u = i + 1; u < ncbs && strcmp(cbs[u], cbs[i]) == 0; u++)
			;
		for (j = 0; j < n; j++)
			digs[j] = cfsm_digest(c, ids[j], cbs[i]);

		/* The usual digest: most members, then lowest. */
		usual = NULL;
		best = 0;
		for (j = 0; j < n; j++) {
			if (digs[j] == NULL)
				continue;
			for (count = 0, k = 0; k < n; k++)
				if (digs[k] != NULL &&
				    strcmp(digs[k], digs[j]) == 0)
					count++;
			if (count > best || (count == best &&
			    strcmp(digs[j], usual) < 0)) {
				usual = digs[j];
				best = count;
			}
		}

		for (k = 0; k < 2; k++) {
			first = 1;
			for (j = 0; j < n; j++) {
				if (k == 0 && (digs[j] == NULL ||
				    strcmp(digs[j], usual) == 0))
					continue;
				if (k == 1 && digs[j] != NULL)
					continue;
				if (first) {
					if (b.len > 0)
						cfsm_buf_add(&b, "\n");
					cfsm_buf_add(&b, cbs[i]);
					cfsm_buf_add(&b, k == 0 ?
					    ": differs on " : ": missing on ");
					first = 0;
				} else
					cfsm_buf_add(&b, ", ");
				if (names != NULL && names[j] != NULL)
					cfsm_buf_add(&b, names[j]);
				else {
					snprintf(idbuf, sizeof(idbuf), "%llu",
					    (unsigned long long)ids[j]);
					cfsm_buf_add(&b, idbuf);
				}
			}
		}
	}
	free(digs);
	free(cbs);
	if (b.len == 0) {
		free(b.p);
		return (xstrdup("consistent"));
	}
	return (b.p);
}

/* Decode hex into an allocated buffer. 0 or -1. */
static int
cfsm_hex_decode(const char *hex, unsigned char **out, size_t *outlen)
{
	unsigned char	*p;
	size_t		 len, i;
	unsigned int	 v;

	if (!cfsm_hex_ok(hex))
		return (-1);
	len = strlen(hex) / 2;
	p = xmalloc(len);
	for (i = 0; i < len; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
			freezero(p, len);
			return (-1);
		}
		p[i] = (unsigned char)v;
	}
	*out = p;
	*outlen = len;
	return (0);
}

/*
 * The digest of call bridge cbname's secret under the cluster key keyhex:
 * HMAC-SHA256(key, cbname NUL secret), its first 16 bytes in lowercase
 * hex. NULL if keyhex is not hex. The caller frees the result.
 */
char *
cfsm_secret_digest(const char *keyhex, const char *cbname,
    const char *secret)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE], *key = NULL, *data = NULL;
	unsigned int	 maclen = 0;
	size_t		 keylen = 0, cblen, seclen, datalen = 0, i;
	char		*out = NULL;

	if (keyhex == NULL || cbname == NULL || secret == NULL)
		return (NULL);
	if (cfsm_hex_decode(keyhex, &key, &keylen) == -1 ||
	    keylen > INT_MAX)
		goto out;
	cblen = strlen(cbname);
	seclen = strlen(secret);
	datalen = cblen + 1 + seclen;
	data = xmalloc(datalen);
	memcpy(data, cbname, cblen + 1);
	memcpy(data + cblen + 1, secret, seclen);
	if (HMAC(EVP_sha256(), key, (int)keylen, data, datalen, mac,
	    &maclen) == NULL || maclen < CFSM_DIGEST_BYTES) {
		log_warnx("cfsm_secret_digest: HMAC failed");
		goto out;
	}
	out = xmalloc(2 * CFSM_DIGEST_BYTES + 1);
	for (i = 0; i < CFSM_DIGEST_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	if (key != NULL)
		freezero(key, keylen);
	if (data != NULL)
		freezero(data, datalen);
	return (out);
}

/*
 * Whether a member (node id) may put entry data into the log through the
 * leader (APPLY): not the leader's own entries (init, member, forget:
 * who is a member, with which certificate), and of entries about one node
 * only those about itself. 0, or -1 and why in buf.
 */
int
cfsm_entry_allowed(const char *data, uint64_t id, char *buf, size_t len)
{
	struct cfsm_entry	 e;
	const char		*cause;
	char			*copy;
	int			 rv = -1;

	copy = xstrdup(data);
	if (cfsm_decode(copy, &e, &cause) == -1)
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

/*
 * The ids in conf at address addr other than id: a node that was reset
 * and rejoins from the same address under a new id. Up to max of them go
 * to out; returns how many.
 */
int
cfsm_stale_ids(const struct raft_configuration *conf, uint64_t id,
    const char *addr, uint64_t *out, int max)
{
	unsigned	 i;
	int		 n = 0;

	if (conf == NULL || addr == NULL)
		return (0);
	for (i = 0; i < conf->n && n < max; i++) {
		if (conf->servers[i].id == id ||
		    conf->servers[i].address == NULL ||
		    strcmp(conf->servers[i].address, addr) != 0)
			continue;
		out[n++] = conf->servers[i].id;
	}
	return (n);
}
