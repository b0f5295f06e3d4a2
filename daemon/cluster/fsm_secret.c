/*
 * The call-bridge secret digests of the replicated state machine: the
 * digest a node puts into the log for each of its call bridges (an HMAC
 * under the cluster's key, so that equal secrets show as equal digests
 * and the secrets themselves stay on their nodes), and the report that
 * compares the members' digests (xmpp cluster status).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cluster/fsm_int.h"
#include "log.h"
#include "xmalloc.h"

static int	 cfsm_strcmp(const void *, const void *);
static int	 cfsm_hex_decode(const char *, unsigned char **, size_t *);

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
