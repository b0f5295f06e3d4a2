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
