/*
 * TLS for XMPP streams: one server context built from the files of
 * xmpp certs, TLS 1.2 or newer, no renegotiation, no compression. The
 * only file of the daemon outside pki/ that calls OpenSSL's TLS API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "xmalloc.h"
#include "xmpp.h"

static SSL_CTX	*tls_ctx;

static char	*xmpp_tls_err(const char *, const char *);

/* An OpenSSL failure as a one-line cause. */
static char *
xmpp_tls_err(const char *what, const char *file)
{
	char		*cause, buf[256];
	unsigned long	 e = ERR_peek_last_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	xasprintf(&cause, "%s %s: %s", what, file, e ? buf : "failed");
	ERR_clear_error();
	return (cause);
}

/*
 * Build a server context from key, certificate and optional bundle (sent
 * as the chain, minus self-signed roots). NULL with *cause on failure.
 */
SSL_CTX *
xmpp_tls_ctx(const char *key, const char *crt, const char *bundle,
    char **cause)
{
	SSL_CTX	*ctx = NULL;
	X509	*x;
	FILE	*f;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*cause = xmpp_tls_err("TLS context", "");
		return (NULL);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM) != 1) {
		*cause = xmpp_tls_err("certificate", crt);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*cause = xmpp_tls_err("key", key);
		goto fail;
	}
	if (bundle != NULL) {
		if ((f = fopen(bundle, "r")) == NULL) {
			xasprintf(cause, "cannot open %s", bundle);
			goto fail;
		}
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
			if (X509_check_issued(x, x) != X509_V_OK &&
			    SSL_CTX_add0_chain_cert(ctx, x) == 1)
				continue;
			X509_free(x);
		}
		fclose(f);
		ERR_clear_error();
	}
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/* Make ctx the context new streams use (NULL to drop it). */
void
xmpp_tls_set(SSL_CTX *ctx)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = ctx;
}

/* A new server-side TLS object, or NULL without a context. */
SSL *
xmpp_tls_new(void)
{
	if (tls_ctx == NULL)
		return (NULL);
	return (SSL_new(tls_ctx));
}

/* Lowercase hex SHA-1 of a string (XEP-0114 handshake); caller frees. */
char *
xmpp_tls_sha1_hex(const char *s)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 len = 0, i;
	char		*hex;

	if (EVP_Digest(s, strlen(s), md, &len, EVP_sha1(), NULL) != 1)
		fatalx("xmpp_tls_sha1_hex: SHA-1 failed");
	hex = xmalloc(2 * len + 1);
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return (hex);
}

/* Whether two strings are equal, in time that depends on length only. */
int
xmpp_tls_equal(const char *a, const char *b)
{
	size_t	 n = strlen(a);

	if (strlen(b) != n)
		return (0);
	return (CRYPTO_memcmp(a, b, n) == 0);
}
