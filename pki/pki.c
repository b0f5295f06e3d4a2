/*
 * Key and certificate checks on OpenSSL 3: the library the daemon uses to
 * tell an admin what is wrong with the files they uploaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "xmalloc.h"

static int	 pki_nopass(char *, int, int, void *);
static EVP_PKEY	*pki_load_key(const char *, char **);
static X509	*pki_load_cert(const char *, char **);
static STACK_OF(X509) *pki_load_certs(const char *, char **);
static const char *pki_base(const char *);

/* The last path component, for messages. */
static const char *
pki_base(const char *path)
{
	const char	*p = strrchr(path, '/');

	return (p ? p + 1 : path);
}

/* Passphrase callback that refuses: we never block for a passphrase. */
static int
pki_nopass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)u = 1;
	return (-1);
}

/* Read a PEM private key; the caller frees it with EVP_PKEY_free. */
static EVP_PKEY *
pki_load_key(const char *path, char **cause)
{
	EVP_PKEY	*key = NULL;
	FILE		*f;
	int		 asked = 0;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: cannot open", pki_base(path));
		return (NULL);
	}
	key = PEM_read_PrivateKey(f, NULL, pki_nopass, &asked);
	fclose(f);
	ERR_clear_error();
	if (key == NULL) {
		if (asked)
			xasprintf(cause, "%s: the key is encrypted with a "
			    "passphrase; remove it first", pki_base(path));
		else
			xasprintf(cause, "%s: not a PEM private key",
			    pki_base(path));
	}
	return (key);
}

/* Read the first PEM certificate of a file. */
static X509 *
pki_load_cert(const char *path, char **cause)
{
	X509	*x;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: cannot open", pki_base(path));
		return (NULL);
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (x == NULL)
		xasprintf(cause, "%s: not a PEM certificate", pki_base(path));
	return (x);
}

/* Read every PEM certificate of a file; at least one, or NULL. */
static STACK_OF(X509) *
pki_load_certs(const char *path, char **cause)
{
	STACK_OF(X509)	*sk;
	X509		*x;
	FILE		*f;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: cannot open", pki_base(path));
		return (NULL);
	}
	if ((sk = sk_X509_new_null()) == NULL) {
		fclose(f);
		xasprintf(cause, "%s: out of memory", pki_base(path));
		return (NULL);
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	fclose(f);
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		xasprintf(cause, "%s: no PEM certificate in it",
		    pki_base(path));
		return (NULL);
	}
	return (sk);
}

/* 0 if path holds an unencrypted PEM private key. */
int
pki_check_key(const char *path, char **cause)
{
	EVP_PKEY	*key;

	if ((key = pki_load_key(path, cause)) == NULL)
		return (-1);
	EVP_PKEY_free(key);
	return (0);
}

/* 0 if path holds a PEM certificate. */
int
pki_check_cert(const char *path, char **cause)
{
	X509	*x;

	if ((x = pki_load_cert(path, cause)) == NULL)
		return (-1);
	X509_free(x);
	return (0);
}

/* 0 if path holds one or more PEM certificates; *n says how many. */
int
pki_check_bundle(const char *path, int *n, char **cause)
{
	STACK_OF(X509)	*sk;

	if ((sk = pki_load_certs(path, cause)) == NULL)
		return (-1);
	*n = sk_X509_num(sk);
	sk_X509_pop_free(sk, X509_free);
	return (0);
}

/* 1 if the key belongs to the certificate, 0 if not, -1 on error. */
int
pki_key_matches(const char *keypath, const char *crtpath, char **cause)
{
	EVP_PKEY	*key = NULL;
	X509		*x = NULL;
	int		 rc = -1;

	if ((key = pki_load_key(keypath, cause)) == NULL ||
	    (x = pki_load_cert(crtpath, cause)) == NULL)
		goto out;
	rc = X509_check_private_key(x, key) == 1;
	ERR_clear_error();
	if (!rc)
		xasprintf(cause, "%s does not belong to %s",
		    pki_base(keypath), pki_base(crtpath));
out:
	EVP_PKEY_free(key);
	X509_free(x);
	return (rc);
}

/* The validity period of a certificate. */
int
pki_validity(const char *crtpath, time_t *notbefore, time_t *notafter,
    char **cause)
{
	X509		*x;
	struct tm	 tm;
	int		 rc = -1;

	if ((x = pki_load_cert(crtpath, cause)) == NULL)
		return (-1);
	if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) != 1)
		goto bad;
	*notbefore = timegm(&tm);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		goto bad;
	*notafter = timegm(&tm);
	rc = 0;
	goto out;
bad:
	xasprintf(cause, "%s: unreadable validity dates", pki_base(crtpath));
out:
	X509_free(x);
	return (rc);
}

/*
 * The host names the certificate in crtpath carries, for a message: its
 * DNS subjectAltNames (the first 8), else "CN <cn>", else "no host
 * name"; control characters shown as '?'. NULL if it cannot be read;
 * the caller frees.
 */
char *
pki_cert_names(const char *crtpath)
{
	GENERAL_NAMES		*sans;
	const GENERAL_NAME	*gn;
	X509			*x;
	char			 cn[256];
	char			*names = NULL, *tmp, *cause = NULL;
	const char		*s;
	int			 i, n;

	if ((x = pki_load_cert(crtpath, &cause)) == NULL) {
		free(cause);
		return (NULL);
	}
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	n = sans ? sk_GENERAL_NAME_num(sans) : 0;
	for (i = 0; i < n && i < 8; i++) {
		gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type != GEN_DNS)
			continue;
		s = (const char *)ASN1_STRING_get0_data(gn->d.dNSName);
		xasprintf(&tmp, "%s%s%.*s", names ? names : "", names ? ", " :
		    "", ASN1_STRING_length(gn->d.dNSName), s);
		free(names);
		names = tmp;
	}
	GENERAL_NAMES_free(sans);
	if (names == NULL && X509_NAME_get_text_by_NID(
	    X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0)
		xasprintf(&names, "CN %s", cn);
	ERR_clear_error();
	X509_free(x);
	if (names == NULL)
		return (xstrdup("no host name"));
	/* The names come from a file: no control characters go out. */
	for (tmp = names; *tmp != '\0'; tmp++)
		if ((unsigned char)*tmp < 0x20 || *tmp == 0x7f)
			*tmp = '?';
	return (names);
}
