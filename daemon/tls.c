/*
 * Every TLS context of the daemon and every OpenSSL error message. XMPP
 * streams take a server context whose CA bundle is the chain it sends;
 * the cluster port takes one context for both ends of its links whose CA
 * bundle is the trust peers are verified against. Both are TLS 1.2 or
 * newer, without renegotiation, compression or session tickets. The
 * server context new XMPP streams take is held here, so are the
 * non-blocking TLS calls of their I/O (xmpp/xio.c), and the digest and
 * comparison of the XEP-0114 handshake are done here.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "compat.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

/*
 * TLS 1.3 suites in the server's order of preference: OpenSSL's three
 * with AES-128-GCM first. Its SHA-256 transcript hash keeps two 112-byte
 * digest states per connection where SHA-384 keeps two of 216, and it
 * runs 10 AES rounds a record where AES-256 runs 14 (issue 16).
 */
#define TLS_SUITES	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
			"TLS_CHACHA20_POLY1305_SHA256"

static SSL_CTX	*tls_server_ctx;	/* what new XMPP streams take */

static int	 tls_add_chain(SSL_CTX *, const char *, char **);
static int	 tls_io_result(SSL *, int);
static void	 tls_io_clear(void);

/*
 * Send the certificates of bundle after ours, minus self-signed roots.
 * -1 with *cause if the file cannot be opened.
 */
static int
tls_add_chain(SSL_CTX *ctx, const char *bundle, char **cause)
{
	X509	*x;
	FILE	*f;

	if ((f = fopen(bundle, "r")) == NULL) {
		xasprintf(cause, "cannot open %s", bundle);
		return (-1);
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (X509_check_issued(x, x) != X509_V_OK &&
		    SSL_CTX_add0_chain_cert(ctx, x) == 1)
			continue;
		X509_free(x);
	}
	fclose(f);
	ERR_clear_error();
	return (0);
}

/*
 * A context from key and certificate with an optional CA bundle.
 * TLS_SERVER makes a server-only context that prefers our cipher order
 * and takes the first certificate of crt only; without it the context
 * serves either end of a link and sends any chain after the certificate
 * in crt. With TLS_VERIFY, ca is required and is the trust: peers must
 * present a certificate in or under it. A bundle may hold end
 * certificates or intermediates rather than roots, hence partial chains,
 * and the purpose is not checked here (callers check the extended key
 * usage they need). Without TLS_VERIFY, ca (if any) is the chain sent
 * after our certificate. NULL with *cause on failure; the caller frees
 * the context.
 */
SSL_CTX *
tls_ctx_new(int flags, const char *key, const char *crt, const char *ca,
    char **cause)
{
	SSL_CTX		*ctx;
	uint64_t	 opts;

	if ((flags & TLS_VERIFY) && ca == NULL)
		fatalx("tls_ctx_new: TLS_VERIFY without a CA bundle");
	opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_TICKET;
	if (flags & TLS_SERVER) {
		ctx = SSL_CTX_new(TLS_server_method());
		opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
		if (ctx != NULL && SSL_CTX_set_ciphersuites(ctx,
		    TLS_SUITES) != 1) {
			SSL_CTX_free(ctx);
			ctx = NULL;
		}
	} else
		ctx = SSL_CTX_new(TLS_method());
	if (ctx == NULL) {
		*cause = tls_error("TLS context", "");
		return (NULL);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, opts);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/*
	 * No resumption at all: in TLS 1.3 SSL_OP_NO_TICKET alone means
	 * stateful tickets, two sessions a connection kept in the server's
	 * cache (up to 20,480 of them) for clients that never come back.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (flags & TLS_SERVER)
		SSL_CTX_set_num_tickets(ctx, 0);
	if ((flags & TLS_SERVER ?
	    SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM) :
	    SSL_CTX_use_certificate_chain_file(ctx, crt)) != 1) {
		*cause = tls_error("certificate", crt);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*cause = tls_error("key", key);
		goto fail;
	}
	if (!(flags & TLS_VERIFY)) {
		if (ca != NULL && tls_add_chain(ctx, ca, cause) == -1)
			goto fail;
		return (ctx);
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		*cause = tls_error("trust bundle", ca);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
	    X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/*
 * An OpenSSL failure as one line, "what file: why", emptying the error
 * queue: why is the system error if one is queued, else the reason of
 * the last error, escaped to be printable. The caller frees the line.
 */
char *
tls_error(const char *what, const char *file)
{
	char		*cause, buf[256], why[256];
	unsigned long	 e, last = 0;
	int		 sys = 0;

	while ((e = ERR_get_error()) != 0) {
		if (ERR_SYSTEM_ERROR(e))
			sys = ERR_GET_REASON(e);
		last = e;
	}
	if (sys != 0)
		strlcpy(buf, strerror(sys), sizeof(buf));
	else if (last != 0 && ERR_reason_error_string(last) != NULL)
		strlcpy(buf, ERR_reason_error_string(last), sizeof(buf));
	else if (last != 0)
		ERR_error_string_n(last, buf, sizeof(buf));
	else
		strlcpy(buf, "failed", sizeof(buf));
	log_escape(why, sizeof(why), buf);
	xasprintf(&cause, "%s %s: %s", what, file, why);
	return (cause);
}

/*
 * Why a TLS bufferevent failed after event what (errno err): the reason
 * in why, the certificate check's in detail (or ""), *alert set if the
 * peer sent us an alert. 1 if OpenSSL gave the reason, 0 for EOF or a
 * system error. Empties the bufferevent's and the thread's error queues.
 */
int
tls_bev_why(struct bufferevent *bev, short what, int err, char *why,
    size_t whylen, char *detail, size_t detlen, int *alert)
{
	unsigned long	 e, found = 0;
	const char	*s;
	SSL		*ssl;
	long		 vr;

	/*
	 * libevent keeps SSL_get_error()'s code (a small number, no library)
	 * and then the queue's first errors, and hands them back last first:
	 * the last real error popped is the first that happened.
	 */
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(e) != 0)
			found = e;
	}
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	if (ERR_GET_LIB(found) == ERR_LIB_SSL &&
	    ERR_GET_REASON(found) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		found = 0;	/* just EOF */
#endif
	ERR_clear_error();
	*detail = '\0';
	*alert = 0;
	if (found == 0) {
		if ((what & BEV_EVENT_EOF) || err == 0)
			strlcpy(why, "connection closed", whylen);
		else
			strlcpy(why, strerror(err), whylen);
		return (0);
	}
	if ((s = ERR_reason_error_string(found)) != NULL)
		strlcpy(why, s, whylen);
	else
		ERR_error_string_n(found, why, whylen);
	if (ERR_GET_LIB(found) == ERR_LIB_SSL &&
	    ERR_GET_REASON(found) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    (ssl = bufferevent_openssl_get_ssl(bev)) != NULL &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK)
		strlcpy(detail, X509_verify_cert_error_string(vr), detlen);
	*alert = ERR_GET_LIB(found) == ERR_LIB_SSL &&
	    ERR_GET_REASON(found) >= SSL_AD_REASON_OFFSET;
	return (1);
}

/* Make ctx (ours from now on) the server context; NULL drops it. */
void
tls_server_set(SSL_CTX *ctx)
{
	SSL_CTX_free(tls_server_ctx);
	tls_server_ctx = ctx;
}

/* A new server-side TLS object, or NULL without a context. */
SSL *
tls_server_new(void)
{
	if (tls_server_ctx == NULL)
		return (NULL);
	return (SSL_new(tls_server_ctx));
}

/* Lowercase hex SHA-1 of a string (XEP-0114 handshake); caller frees. */
char *
tls_sha1_hex(const char *s)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 len = 0, i;
	char		*hex;

	if (EVP_Digest(s, strlen(s), md, &len, EVP_sha1(), NULL) != 1)
		fatalx("tls_sha1_hex: SHA-1 failed");
	hex = xmalloc(2 * len + 1);
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return (hex);
}

/* Whether two strings are equal, in time that depends on length only. */
int
tls_equal(const char *a, const char *b)
{
	size_t	 n = strlen(a);

	if (strlen(b) != n)
		return (0);
	return (CRYPTO_memcmp(a, b, n) == 0);
}

/*
 * Empty the error queue before an I/O call, as SSL_get_error needs. It is
 * almost always empty already: peeking costs far less than
 * ERR_clear_error's sweep of every slot, on every read and write.
 */
static void
tls_io_clear(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/* Put a server-side TLS object on socket fd, reading ahead; -1 on failure. */
int
tls_io_start(SSL *ssl, int fd)
{
	ERR_clear_error();
	if (SSL_set_fd(ssl, fd) != 1) {
		ERR_clear_error();
		return (-1);
	}
	/*
	 * Reading ahead, OpenSSL takes what the socket has in one read, not
	 * a record's header and then its body in two.
	 */
	SSL_set_read_ahead(ssl, 1);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_accept_state(ssl);
	return (0);
}

/*
 * What an OpenSSL I/O call that returned r means: the end of the stream
 * (0: a close_notify, or the peer closed without one), TLS_IO_WANT_READ,
 * TLS_IO_WANT_WRITE or TLS_IO_ERROR (the queue kept for tls_io_why).
 */
static int
tls_io_result(SSL *ssl, int r)
{
	unsigned long	 e;

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return (TLS_IO_WANT_READ);
	case SSL_ERROR_WANT_WRITE:
		return (TLS_IO_WANT_WRITE);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && errno == 0)
			return (0);
		return (TLS_IO_ERROR);
	case SSL_ERROR_SSL:
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
		e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return (0);
		}
#else
		(void)e;
#endif
		return (TLS_IO_ERROR);
	default:
		return (TLS_IO_ERROR);
	}
}

/* Go on with the handshake: 1 when done, else a TLS_IO_* result or 0. */
int
tls_io_handshake(SSL *ssl)
{
	int	 r;

	tls_io_clear();
	errno = 0;
	if ((r = SSL_do_handshake(ssl)) == 1)
		return (1);
	return (tls_io_result(ssl, r));
}

/* Decrypted bytes into a buffer: a count or a TLS_IO_* result or 0. */
int
tls_io_read(SSL *ssl, void *buf, size_t len)
{
	int	 r;

	tls_io_clear();
	errno = 0;
	if ((r = SSL_read(ssl, buf, len > INT_MAX ? INT_MAX : (int)len)) > 0)
		return (r);
	return (tls_io_result(ssl, r));
}

/*
 * Encrypt and send bytes: a count or a TLS_IO_* result or 0. After
 * TLS_IO_WANT_*, call again with the same bytes and at least as many
 * (they may have moved).
 */
int
tls_io_write(SSL *ssl, const void *buf, size_t len)
{
	int	 r;

	tls_io_clear();
	errno = 0;
	if ((r = SSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len)) > 0)
		return (r);
	return (tls_io_result(ssl, r));
}

/* Whether OpenSSL holds input it read from the socket but we did not. */
int
tls_io_pending(SSL *ssl)
{
	return (SSL_has_pending(ssl));
}

/*
 * Why the last TLS_IO_ERROR happened (errno err): the reason of the first
 * error OpenSSL queued, else the system error; empties the queue.
 */
void
tls_io_why(int err, char *why, size_t len)
{
	unsigned long	 e, first = 0;
	const char	*s;

	while ((e = ERR_get_error()) != 0)
		if (first == 0 && ERR_GET_LIB(e) != 0)
			first = e;
	if (first == 0) {
		strlcpy(why, err == 0 ? "connection closed" : strerror(err),
		    len);
		return;
	}
	if ((s = ERR_reason_error_string(first)) != NULL)
		strlcpy(why, s, len);
	else
		ERR_error_string_n(first, why, len);
}

/*
 * Whether a stream keeps OpenSSL's record buffers (about 17 KiB each way)
 * between reads and writes. A quiet stream lets them go as soon as they
 * are empty (SSL_MODE_RELEASE_BUFFERS, the context's mode), which costs a
 * large allocation and free for every record in and out; a busy one keeps
 * them until it quiets down, and then they are freed at once if empty.
 */
void
tls_io_keep(SSL *ssl, int keep)
{
	if (keep) {
		SSL_clear_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
		return;
	}
	SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
	(void)SSL_free_buffers(ssl);	/* 0: one holds bytes, kept */
}

/* Free a TLS object of tls_io_start (NULL does nothing). */
void
tls_io_free(SSL *ssl)
{
	SSL_free(ssl);
}
