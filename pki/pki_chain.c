/*
 * Checking a certificate against its chain, and writing certificates out
 * as one bundle in chain order. The files are read by pki_cert.c.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "pki_local.h"
#include "xmalloc.h"

/* A certificate on its way into a bundle. */
struct chain_item {
	X509		*x;
	const char	*file;
	int		 issuer;	/* index of its issuer, or -1 */
	int		 issues;	/* issues another certificate */
	int		 placed;
};

static void	 chain_verify_error(X509_STORE_CTX *, const char *,
		    const char *, const char *, char **);
static int	 chain_order(STACK_OF(X509) *, STACK_OF(X509) *, const char *,
		    char **);
static int	 chain_bundle_order(struct chain_item *, int, int *, char **);

/* Set *cause to why verification failed, in plain words. */
static void
chain_verify_error(X509_STORE_CTX *ctx, const char *crt, const char *bundle,
    const char *ca, char **cause)
{
	X509		*c;
	const char	*trusted = pki_cert_base(ca != NULL ? ca : bundle);
	char		*who, *iss = NULL, *date = NULL, *where = NULL;
	char		*why = NULL;
	int		 err;

	err = X509_STORE_CTX_get_error(ctx);
	if ((c = X509_STORE_CTX_get_current_cert(ctx)) != NULL) {
		who = pki_cert_who(c);
		iss = pki_cert_namewho(X509_get_issuer_name(c));
	} else {
		who = xstrdup("a certificate");
		iss = xstrdup("its issuer");
	}
	if (bundle != NULL && ca != NULL)
		xasprintf(&where, "%s or %s", pki_cert_base(bundle),
		    pki_cert_base(ca));
	else
		where = xstrdup(pki_cert_base(bundle != NULL ? bundle : ca));

	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		date = c != NULL ? pki_cert_time(X509_get0_notAfter(c), 0) :
		    xstrdup("(unknown)");
		xasprintf(&why, "%s expired on %s", who, date);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		date = c != NULL ? pki_cert_time(X509_get0_notBefore(c), 0) :
		    xstrdup("(unknown)");
		xasprintf(&why, "%s is not yet valid: it starts on %s", who,
		    date);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		xasprintf(&why, "%s was issued by %s, which is not in %s "
		    "(missing intermediate or unknown issuer)", who, iss,
		    where);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		xasprintf(&why, "%s is self-signed and not trusted by %s", who,
		    trusted);
		break;
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		xasprintf(&why, "the chain ends at %s, which is not trusted "
		    "by %s", who, trusted);
		break;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
		xasprintf(&why, "signature failure: %s is not signed by the "
		    "key of the %s in %s", who, iss, where);
		break;
	case X509_V_ERR_INVALID_CA:
		xasprintf(&why, "%s is not a CA certificate, yet it issued "
		    "another certificate in the chain", who);
		break;
	default:
		xasprintf(&why, "%s: %s", who,
		    X509_verify_cert_error_string(err));
		break;
	}
	xasprintf(cause, "%s does not verify: %s", pki_cert_base(crt), why);
	free(why);
	free(date);
	free(where);
	free(iss);
	free(who);
}

/*
 * Check that the bundle's certificates that are in the verified chain
 * come in chain order, leaf first; those not in the chain are ignored.
 */
static int
chain_order(STACK_OF(X509) *chain, STACK_OF(X509) *bsk, const char *bundle,
    char **cause)
{
	X509	*c, *prev = NULL;
	char	*a, *b;
	int	 i, j, pos, prevpos = -1;

	for (i = 0; i < sk_X509_num(bsk); i++) {
		c = sk_X509_value(bsk, i);
		for (pos = -1, j = 0; j < sk_X509_num(chain); j++) {
			if (X509_cmp(sk_X509_value(chain, j), c) == 0) {
				pos = j;
				break;
			}
		}
		if (pos == -1)
			continue;
		if (prev != NULL && pos < prevpos) {
			a = pki_cert_who(c);
			b = pki_cert_who(prev);
			xasprintf(cause, "%s is in the wrong order: %s must "
			    "come before %s; pki bundle writes it in order",
			    pki_cert_base(bundle), a, b);
			free(a);
			free(b);
			return (-1);
		}
		prev = c;
		prevpos = pos;
	}
	return (0);
}

/*
 * Verify the first certificate of crt against the bundle and, if given,
 * the CA file. The trust anchors are ca's certificates, or without ca the
 * bundle's self-signed ones; the rest of the bundle are intermediates. A
 * chain that verifies from a bundle in the wrong order fails too.
 */
int
pki_verify_chain(const char *crt, const char *bundle, const char *ca,
    char **cause)
{
	STACK_OF(X509)	*leafs = NULL, *bsk = NULL, *csk = NULL;
	STACK_OF(X509)	*untrusted = NULL;
	X509_STORE	*store = NULL;
	X509_STORE_CTX	*ctx = NULL;
	X509		*c;
	int		 i, rc = -1;

	if (bundle == NULL && ca == NULL) {
		xasprintf(cause, "%s: no CA bundle to verify it against",
		    pki_cert_base(crt));
		goto out;
	}
	if ((leafs = pki_cert_certs(crt, 0, cause)) == NULL)
		goto out;
	if (bundle != NULL && (bsk = pki_cert_certs(bundle, 0, cause)) == NULL)
		goto out;
	if (ca != NULL && (csk = pki_cert_certs(ca, 0, cause)) == NULL)
		goto out;
	if ((store = X509_STORE_new()) == NULL ||
	    (untrusted = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL) {
		xasprintf(cause, "%s: out of memory", pki_cert_base(crt));
		goto out;
	}
	for (i = 0; i < sk_X509_num(bsk); i++) {
		c = sk_X509_value(bsk, i);
		if (ca == NULL && X509_self_signed(c, 0) == 1)
			X509_STORE_add_cert(store, c);
		else
			sk_X509_push(untrusted, c);
	}
	for (i = 0; i < sk_X509_num(csk); i++)
		X509_STORE_add_cert(store, sk_X509_value(csk, i));

	/* An explicit CA file is trusted even when it is an intermediate. */
	if (ca != NULL)
		X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);

	if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(leafs, 0),
	    untrusted)) {
		xasprintf(cause, "%s: cannot set up verification",
		    pki_cert_base(crt));
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		chain_verify_error(ctx, crt, bundle, ca, cause);
		goto out;
	}
	if (bsk != NULL && chain_order(X509_STORE_CTX_get0_chain(ctx), bsk,
	    bundle, cause) == -1)
		goto out;
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	sk_X509_pop_free(csk, X509_free);
	sk_X509_pop_free(bsk, X509_free);
	sk_X509_pop_free(leafs, X509_free);
	ERR_clear_error();
	return (rc);
}

/*
 * Order certificates into one chain, leaf first: each certificate's
 * issuer is the one whose name it names and whose key signed it. Writes
 * the order into order[]; -1 with *cause if they are not one chain.
 */
static int
chain_bundle_order(struct chain_item *it, int n, int *order, char **cause)
{
	EVP_PKEY	*pk;
	char		*a, *c;
	int		 i, j, k, leaf = -1;

	for (i = 0; i < n; i++) {
		it[i].issuer = -1;
		for (j = 0; j < n; j++) {
			if (j == i || X509_check_issued(it[j].x, it[i].x) !=
			    X509_V_OK)
				continue;
			if ((pk = X509_get0_pubkey(it[j].x)) == NULL ||
			    X509_verify(it[i].x, pk) != 1)
				continue;
			it[i].issuer = j;
			it[j].issues = 1;
			break;
		}
	}
	ERR_clear_error();
	for (i = 0; n > 1 && i < n; i++) {
		if (it[i].issuer == -1 && !it[i].issues) {
			a = pki_cert_who(it[i].x);
			xasprintf(cause, "%s: %s does not chain to the other "
			    "certificates", pki_cert_base(it[i].file), a);
			free(a);
			return (-1);
		}
	}
	for (i = 0; i < n; i++) {
		if (it[i].issues)
			continue;
		if (leaf != -1) {
			a = pki_cert_who(it[leaf].x);
			c = pki_cert_who(it[i].x);
			xasprintf(cause, "%s (%s) and %s (%s) are both leaf "
			    "certificates; a bundle holds one chain", a,
			    pki_cert_base(it[leaf].file), c,
			    pki_cert_base(it[i].file));
			free(a);
			free(c);
			return (-1);
		}
		leaf = i;
	}
	if (leaf == -1) {
		xasprintf(cause, "the certificates issue each other in a "
		    "loop; a bundle needs one leaf");
		return (-1);
	}
	for (k = 0, i = leaf; i != -1 && !it[i].placed; i = it[i].issuer) {
		it[i].placed = 1;
		order[k++] = i;
	}
	for (i = 0; i < n; i++) {
		if (!it[i].placed) {
			a = pki_cert_who(it[i].x);
			xasprintf(cause, "%s: %s does not chain to the other "
			    "certificates", pki_cert_base(it[i].file), a);
			free(a);
			return (-1);
		}
	}
	return (0);
}

/*
 * Write the certificates of the input files to out as one PEM bundle.
 * Duplicates are dropped. Without trust they must form one chain, which
 * is written leaf first, root last; with trust (a cluster trust bundle)
 * any certificates go, in input order.
 */
int
pki_bundle(const char *out, const char **inputs, int n, int trust,
    char **cause)
{
	STACK_OF(X509)		*sk = NULL;
	struct chain_item	*it = NULL;
	BIO			*bio = NULL;
	X509			*c;
	int			*order = NULL;
	int			 i, j, k, nit = 0, dup, rc = -1;

	if (n <= 0) {
		xasprintf(cause, "%s: no certificates to bundle",
		    pki_cert_base(out));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((sk = pki_cert_certs(inputs[i], 1, cause)) == NULL)
			goto out;
		while ((c = sk_X509_shift(sk)) != NULL) {
			for (dup = 0, j = 0; j < nit && !dup; j++)
				dup = X509_cmp(it[j].x, c) == 0;
			if (dup) {
				X509_free(c);
				continue;
			}
			it = xreallocarray(it, nit + 1, sizeof(*it));
			memset(&it[nit], 0, sizeof(*it));
			it[nit].x = c;
			it[nit].file = inputs[i];
			nit++;
		}
		sk_X509_free(sk);
		sk = NULL;
	}
	order = xreallocarray(NULL, nit, sizeof(*order));
	if (trust) {
		for (i = 0; i < nit; i++)
			order[i] = i;
	} else if (chain_bundle_order(it, nit, order, cause) == -1)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		xasprintf(cause, "%s: out of memory", pki_cert_base(out));
		goto out;
	}
	for (k = 0; k < nit; k++) {
		if (!PEM_write_bio_X509(bio, it[order[k]].x)) {
			xasprintf(cause, "%s: cannot encode the certificates",
			    pki_cert_base(out));
			goto out;
		}
	}
	if (pki_conv_write_new(out, 0644, bio, cause) == -1)
		goto out;
	rc = 0;
out:
	BIO_free(bio);
	free(order);
	for (i = 0; i < nit; i++)
		X509_free(it[i].x);
	free(it);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return (rc);
}
