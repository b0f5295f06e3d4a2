/*
 * Making keys, CSRs and certificates. pki_make runs in a worker thread:
 * it touches nothing but OpenSSL and the two descriptors it is given.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "xmalloc.h"

struct pki_progress {
	pki_progress_cb	 cb;
	void		*arg;
};

static int	 pki_gen_cb(EVP_PKEY_CTX *);
static EVP_PKEY	*pki_gen_key(enum pki_keytype, pki_progress_cb, void *,
		    char **);
static X509_NAME *pki_gen_name(const struct pki_attrs *, char **);
static char	*pki_gen_san(const struct pki_attrs *);
static int	 pki_gen_ext(STACK_OF(X509_EXTENSION) *, X509V3_CTX *, int,
		    const char *, char **);
static int	 pki_gen_serial(X509 *);
static int	 pki_gen_write(int, EVP_PKEY *, X509_REQ *, X509 *, char **);
static char	*pki_gen_err(const char *);

/* An OpenSSL error as one line of cause, prefixed with what failed. */
static char *
pki_gen_err(const char *what)
{
	char		*cause;
	unsigned long	 e = ERR_peek_last_error();

	if (e != 0)
		xasprintf(&cause, "%s: %s", what, ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "OpenSSL error");
	else
		xasprintf(&cause, "%s failed", what);
	ERR_clear_error();
	return (cause);
}

/* Key generation callback: tell the caller that work goes on. */
static int
pki_gen_cb(EVP_PKEY_CTX *ctx)
{
	struct pki_progress	*p = EVP_PKEY_CTX_get_app_data(ctx);

	if (p != NULL && p->cb != NULL &&
	    EVP_PKEY_CTX_get_keygen_info(ctx, 0) == 2)
		p->cb(p->arg);
	return (1);
}

/* Generate a key of the given type. */
static EVP_PKEY *
pki_gen_key(enum pki_keytype type, pki_progress_cb cb, void *arg,
    char **cause)
{
	struct pki_progress	 p = { cb, arg };
	EVP_PKEY_CTX		*ctx = NULL;
	EVP_PKEY		*key = NULL;
	int			 bits = 2048, nid = NID_undef;

	switch (type) {
	case PKI_KEY_RSA2048:
		bits = 2048;
		break;
	case PKI_KEY_RSA3072:
		bits = 3072;
		break;
	case PKI_KEY_RSA4096:
		bits = 4096;
		break;
	case PKI_KEY_EC256:
		nid = NID_X9_62_prime256v1;
		break;
	case PKI_KEY_EC384:
		nid = NID_secp384r1;
		break;
	}
	ctx = EVP_PKEY_CTX_new_id(nid == NID_undef ? EVP_PKEY_RSA :
	    EVP_PKEY_EC, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0)
		goto fail;
	if (nid == NID_undef) {
		if (EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0)
			goto fail;
	} else if (EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, nid) <= 0 ||
	    EVP_PKEY_CTX_set_ec_param_enc(ctx, OPENSSL_EC_NAMED_CURVE) <= 0)
		goto fail;
	EVP_PKEY_CTX_set_app_data(ctx, &p);
	EVP_PKEY_CTX_set_cb(ctx, pki_gen_cb);
	if (EVP_PKEY_keygen(ctx, &key) <= 0)
		goto fail;
	EVP_PKEY_CTX_free(ctx);
	return (key);
fail:
	*cause = pki_gen_err("key generation");
	EVP_PKEY_CTX_free(ctx);
	return (NULL);
}

/* The subject name, in the usual C, ST, L, O, OU, CN order. */
static X509_NAME *
pki_gen_name(const struct pki_attrs *a, char **cause)
{
	const char	*fields[] = { "C", "ST", "L", "O", "OU", "CN" };
	const char	*values[] = { a->c, a->st, a->l, a->o, a->ou, a->cn };
	X509_NAME	*name;
	size_t		 i;

	if ((name = X509_NAME_new()) == NULL)
		goto fail;
	for (i = 0; i < 6; i++) {
		if (values[i] == NULL)
			continue;
		if (!X509_NAME_add_entry_by_txt(name, fields[i], MBSTRING_UTF8,
		    (const unsigned char *)values[i], -1, -1, 0))
			goto fail;
	}
	return (name);
fail:
	*cause = pki_gen_err("subject name");
	X509_NAME_free(name);
	return (NULL);
}

/* "DNS:a,IP:b" from the SAN list (entries were checked when parsed). */
static char *
pki_gen_san(const struct pki_attrs *a)
{
	char	*s = xstrdup(""), *tmp;
	int	 i;

	for (i = 0; i < a->nsan; i++) {
		xasprintf(&tmp, "%s%s%s:%s", s, i ? "," : "",
		    a->san[i].ip ? "IP" : "DNS", a->san[i].value);
		free(s);
		s = tmp;
	}
	return (s);
}

/* Make one extension from its config text and add it to the stack. */
static int
pki_gen_ext(STACK_OF(X509_EXTENSION) *sk, X509V3_CTX *v3, int nid,
    const char *value, char **cause)
{
	X509_EXTENSION	*ext;

	if ((ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value)) == NULL) {
		*cause = pki_gen_err(OBJ_nid2sn(nid));
		return (-1);
	}
	if (!sk_X509_EXTENSION_push(sk, ext)) {
		X509_EXTENSION_free(ext);
		*cause = pki_gen_err("extensions");
		return (-1);
	}
	return (0);
}

/* A random positive 128-bit serial number. */
static int
pki_gen_serial(X509 *x)
{
	unsigned char	 buf[16];
	BIGNUM		*bn;
	int		 ok;

	if (RAND_bytes(buf, sizeof(buf)) != 1)
		return (-1);
	buf[0] &= 0x7f;
	buf[0] |= 0x01;
	if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) == NULL)
		return (-1);
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return (ok ? 0 : -1);
}

/* Write a key (if any) and a CSR or certificate as PEM to fd. */
static int
pki_gen_write(int fd, EVP_PKEY *key, X509_REQ *req, X509 *x, char **cause)
{
	FILE	*f;
	int	 ok;

	if ((fd = dup(fd)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		xasprintf(cause, "cannot write: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (key != NULL)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else if (req != NULL)
		ok = PEM_write_X509_REQ(f, req);
	else
		ok = PEM_write_X509(f, x);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		*cause = pki_gen_err("writing the file");
		return (-1);
	}
	return (0);
}

/*
 * Make a key and, as mode says, a CSR, a self-signed certificate or a
 * self-signed CA certificate; write the key to keyfd and the rest to
 * outfd, both open for writing and still owned by the caller. progress
 * (may be NULL) is called from this thread while the key is made.
 */
int
pki_make(const struct pki_attrs *a, int mode, int keyfd, int outfd,
    pki_progress_cb progress, void *arg, char **cause)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509V3_CTX	 v3;
	EVP_PKEY	*key = NULL;
	X509_NAME	*name = NULL;
	X509_REQ	*req = NULL;
	X509		*x = NULL;
	char		*san = NULL;
	int		 i, rc = -1;

	*cause = NULL;
	if ((key = pki_gen_key(a->key, progress, arg, cause)) == NULL ||
	    (name = pki_gen_name(a, cause)) == NULL)
		goto out;
	if ((exts = sk_X509_EXTENSION_new_null()) == NULL) {
		*cause = pki_gen_err("extensions");
		goto out;
	}

	if (mode == PKI_MAKE_CSR) {
		if ((req = X509_REQ_new()) == NULL ||
		    !X509_REQ_set_version(req, 0) ||
		    !X509_REQ_set_subject_name(req, name) ||
		    !X509_REQ_set_pubkey(req, key)) {
			*cause = pki_gen_err("CSR");
			goto out;
		}
		X509V3_set_ctx(&v3, NULL, NULL, req, NULL, 0);
	} else {
		if ((x = X509_new()) == NULL || !X509_set_version(x, 2) ||
		    pki_gen_serial(x) == -1 ||
		    !X509_set_subject_name(x, name) ||
		    !X509_set_issuer_name(x, name) ||
		    !X509_set_pubkey(x, key) ||
		    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
		    X509_time_adj_ex(X509_getm_notAfter(x), a->days, 0,
		    NULL) == NULL) {
			*cause = pki_gen_err("certificate");
			goto out;
		}
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	}

	if (mode == PKI_MAKE_CA) {
		if (pki_gen_ext(exts, &v3, NID_basic_constraints,
		    "critical,CA:TRUE", cause) == -1 ||
		    pki_gen_ext(exts, &v3, NID_key_usage,
		    "critical,keyCertSign,cRLSign", cause) == -1 ||
		    pki_gen_ext(exts, &v3, NID_subject_key_identifier, "hash",
		    cause) == -1)
			goto out;
	} else {
		if (mode == PKI_MAKE_SELFSIGNED && (pki_gen_ext(exts, &v3,
		    NID_basic_constraints, "critical,CA:FALSE", cause) == -1 ||
		    pki_gen_ext(exts, &v3, NID_subject_key_identifier, "hash",
		    cause) == -1))
			goto out;
		if (pki_gen_ext(exts, &v3, NID_key_usage,
		    "critical,digitalSignature,keyEncipherment", cause) == -1 ||
		    pki_gen_ext(exts, &v3, NID_ext_key_usage,
		    "serverAuth,clientAuth", cause) == -1)
			goto out;
		if (a->nsan > 0) {
			san = pki_gen_san(a);
			if (pki_gen_ext(exts, &v3, NID_subject_alt_name, san,
			    cause) == -1)
				goto out;
		}
	}

	if (req != NULL) {
		if (!X509_REQ_add_extensions(req, exts) ||
		    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
			*cause = pki_gen_err("signing the CSR");
			goto out;
		}
	} else {
		for (i = 0; i < sk_X509_EXTENSION_num(exts); i++)
			if (!X509_add_ext(x, sk_X509_EXTENSION_value(exts, i),
			    -1)) {
				*cause = pki_gen_err("certificate extensions");
				goto out;
			}
		if (X509_sign(x, key, EVP_sha256()) <= 0) {
			*cause = pki_gen_err("signing the certificate");
			goto out;
		}
	}
	if (pki_gen_write(keyfd, key, NULL, NULL, cause) == -1 ||
	    pki_gen_write(outfd, NULL, req, x, cause) == -1)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	X509_free(x);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return (rc);
}

/*
 * Sign the CSR at csrpath with the CA's key and certificate for days
 * (capped at the CA's own expiry) and write the certificate to outfd.
 * The CSR's extensions are kept, except that basicConstraints is always
 * CA:FALSE: a lab CA signs servers, not other CAs.
 */
int
pki_ca_sign(const char *cakeypath, const char *cacrtpath,
    const char *csrpath, int days, int outfd, char **cause)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION	*ext;
	X509V3_CTX	 v3;
	EVP_PKEY	*cakey = NULL, *pub = NULL;
	X509		*ca = NULL, *x = NULL;
	X509_REQ	*req = NULL;
	FILE		*f;
	const char	*base;
	int		 i, nid, rc = -1;

	*cause = NULL;
	base = strrchr(csrpath, '/') ? strrchr(csrpath, '/') + 1 : csrpath;
	if ((f = fopen(cakeypath, "r")) != NULL) {
		cakey = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
		fclose(f);
	}
	if ((f = fopen(cacrtpath, "r")) != NULL) {
		ca = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (cakey == NULL || ca == NULL) {
		xasprintf(cause, "cannot read the CA key and certificate");
		goto out;
	}
	if (X509_check_private_key(ca, cakey) != 1) {
		xasprintf(cause, "the CA key does not match the CA "
		    "certificate");
		goto out;
	}
	if ((f = fopen(csrpath, "r")) != NULL) {
		req = PEM_read_X509_REQ(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (req == NULL) {
		xasprintf(cause, "%s: not a PEM CSR", base);
		goto out;
	}
	if ((pub = X509_REQ_get_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, pub) != 1) {
		xasprintf(cause, "%s: the CSR's signature does not verify",
		    base);
		goto out;
	}
	if ((x = X509_new()) == NULL || !X509_set_version(x, 2) ||
	    pki_gen_serial(x) == -1 ||
	    !X509_set_subject_name(x, X509_REQ_get_subject_name(req)) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !X509_set_pubkey(x, pub) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL) {
		*cause = pki_gen_err("certificate");
		goto out;
	}
	if (ASN1_TIME_compare(X509_get0_notAfter(x),
	    X509_get0_notAfter(ca)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(ca))) {
		*cause = pki_gen_err("certificate validity");
		goto out;
	}

	exts = X509_REQ_get_extensions(req);
	for (i = 0; exts != NULL && i < sk_X509_EXTENSION_num(exts); i++) {
		ext = sk_X509_EXTENSION_value(exts, i);
		nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
		if (nid == NID_basic_constraints ||
		    nid == NID_subject_key_identifier ||
		    nid == NID_authority_key_identifier)
			continue;
		if (!X509_add_ext(x, ext, -1)) {
			*cause = pki_gen_err("certificate extensions");
			goto out;
		}
	}
	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	{
		const char	*names[] = { "critical,CA:FALSE", "hash",
				    "keyid:always" };
		const int	 nids[] = { NID_basic_constraints,
				    NID_subject_key_identifier,
				    NID_authority_key_identifier };

		for (i = 0; i < 3; i++) {
			ext = X509V3_EXT_nconf_nid(NULL, &v3, nids[i],
			    names[i]);
			if (ext == NULL || !X509_add_ext(x, ext, -1)) {
				X509_EXTENSION_free(ext);
				*cause = pki_gen_err(OBJ_nid2sn(nids[i]));
				goto out;
			}
			X509_EXTENSION_free(ext);
		}
	}
	if (X509_sign(x, cakey, EVP_sha256()) <= 0) {
		*cause = pki_gen_err("signing the certificate");
		goto out;
	}
	if (pki_gen_write(outfd, NULL, NULL, x, cause) == -1)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(pub);
	return (rc);
}
