/*
 * TLS for XMPP streams: the server context new streams use (tls.c builds
 * it from the files of xmpp certs), and the digest and comparison of the
 * XEP-0114 handshake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "log.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

static SSL_CTX	*tls_ctx;

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
