/*
 * TLS on the cluster port (DESIGN.md section 7): the context both ends of
 * cluster links share (built by tls.c against the trust bundle), the
 * check of a node's own key and certificate, the identity of a peer
 * (the SHA-256 of its certificate's key) and its extended key usage, the
 * TLS channels of the port, and a new trust bundle applied to the
 * running port.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "cluster/cluster.h"
#include "cluster/net.h"
#include "log.h"
#include "mmpd.h"
#include "tls.h"
#include "xmalloc.h"

/*
 * Every TLS channel of the port, in its handshake or handed on, until
 * OpenSSL frees its SSL (the ex_data free hook unlinks it): a new trust
 * bundle is checked against the peers of the channels already up.
 */
struct cnet_live {
	TAILQ_ENTRY(cnet_live)	 entry;
	SSL			*ssl;
	char			 peer[80];
};

static SSL_CTX			*cnet_ctx;
static int			 cnet_live_idx = -1;
static TAILQ_HEAD(, cnet_live)	 cnet_lives =
    TAILQ_HEAD_INITIALIZER(cnet_lives);
static char			 cnet_myident[65];	/* our key's */

static int	 cnet_cert_ident(X509 *, char *, size_t);
static int	 cnet_trusted_now(SSL *);
static void	 cnet_live_free(void *, void *, CRYPTO_EX_DATA *, int, long,
		    void *);

/*
 * A context for both ends of a cluster link: our key and certificate
 * (and any chain after it in the file), peers verified against the trust
 * bundle. Since nodes present their XMPP server certificates as clients
 * too, the certificates' purpose is not checked by TLS: being in or under
 * the bundle is the identity (cnet_peer_ident checks the key usage).
 * The caller frees it.
 */
SSL_CTX *
cnet_tls_ctx(const char *key, const char *crt, const char *trust,
    char **cause)
{
	if (trust == NULL || *trust == '\0') {
		xasprintf(cause, "no cluster trust bundle");
		return (NULL);
	}
	return (tls_ctx_new(TLS_VERIFY, key, crt, trust, cause));
}

/*
 * Whether key and certificate load, match, and the certificate chains to
 * the trust bundle, as peers will check it. -1 with *cause if not.
 */
int
cnet_check_identity(const char *key, const char *crt, const char *trust,
    char **cause)
{
	SSL_CTX		*ctx;
	X509_STORE_CTX	*xs = NULL;
	STACK_OF(X509)	*chain = NULL;
	uint32_t	 xku;
	int		 rc = -1;

	if ((ctx = cnet_tls_ctx(key, crt, trust, cause)) == NULL)
		return (-1);
	SSL_CTX_get0_chain_certs(ctx, &chain);
	if ((xs = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx),
	    SSL_CTX_get0_certificate(ctx), chain) != 1) {
		*cause = tls_error("verify", crt);
		goto out;
	}
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs),
	    SSL_CTX_get0_param(ctx));
	if (X509_verify_cert(xs) != 1) {
		xasprintf(cause, "certificate %s is not trusted by the "
		    "bundle %s: %s", crt, trust, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xs)));
		goto out;
	}
	/*
	 * Each end of a cluster link is a TLS server to one peer and a
	 * client to another, and peers take only a certificate that names
	 * both uses (cnet_peer_ident): one that names none is refused too.
	 */
	xku = X509_get_extended_key_usage(SSL_CTX_get0_certificate(ctx));
	if (xku == UINT32_MAX || !(xku & XKU_SSL_SERVER) ||
	    !(xku & XKU_SSL_CLIENT)) {
		xasprintf(cause, "certificate %s lacks %s in its extended key "
		    "usage: cluster links authenticate both ends, so a node "
		    "certificate needs serverAuth and clientAuth; have it "
		    "reissued with both", crt, xku == UINT32_MAX ||
		    (!(xku & XKU_SSL_CLIENT) && !(xku & XKU_SSL_SERVER)) ?
		    "serverAuth and clientAuth" : !(xku & XKU_SSL_CLIENT) ?
		    "clientAuth" : "serverAuth");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(xs);
	SSL_CTX_free(ctx);
	return (rc);
}

/*
 * Make ctx the port's context (the port's from now on, the one before it
 * freed) and its certificate's key our identity. -1 if that key cannot be
 * read: ctx stays the caller's.
 */
int
cnet_tls_use(SSL_CTX *ctx)
{
	char	 ident[sizeof(cnet_myident)];

	if (cnet_cert_ident(SSL_CTX_get0_certificate(ctx), ident,
	    sizeof(ident)) == -1)
		return (-1);
	strlcpy(cnet_myident, ident, sizeof(cnet_myident));
	SSL_CTX_free(cnet_ctx);
	cnet_ctx = ctx;
	return (0);
}

/* Drop the port's context and our identity (the port closed). */
void
cnet_tls_drop(void)
{
	SSL_CTX_free(cnet_ctx);
	cnet_ctx = NULL;
	cnet_myident[0] = '\0';
}

/* Whether the port has a context to start TLS with. */
int
cnet_tls_ready(void)
{
	return (cnet_ctx != NULL);
}

/*
 * The identity of a certificate: the SHA-256 of its public key (the DER
 * SubjectPublicKeyInfo) in lowercase hex, into out (65 bytes). -1 if
 * there is none.
 */
static int
cnet_cert_ident(X509 *crt, char *out, size_t len)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0, i;

	if (crt == NULL || len < 65 ||
	    X509_pubkey_digest(crt, EVP_sha256(), md, &n) != 1 || n != 32) {
		ERR_clear_error();
		return (-1);
	}
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, len - 2 * i, "%02x", md[i]);
	return (0);
}

/*
 * The identity of the peer of a channel's bev (its certificate verified
 * by TLS):
 * 0 and the identity in out, or -1 and why in reason. A peer certificate
 * must name serverAuth and clientAuth: each end of a cluster link is a
 * TLS server to one peer and a client to another, and a certificate
 * issued for something else (a user's, a web server's) is no node's.
 */
int
cnet_peer_ident(struct bufferevent *bev, char *out, size_t len, char *reason,
    size_t rlen)
{
	SSL		*ssl;
	X509		*crt;
	uint32_t	 xku;

	if ((ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    (crt = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(reason, rlen, "no peer certificate");
		return (-1);
	}
	xku = X509_get_extended_key_usage(crt);
	if (xku == UINT32_MAX || !(xku & XKU_SSL_SERVER) ||
	    !(xku & XKU_SSL_CLIENT)) {
		snprintf(reason, rlen, "its certificate %s: a cluster node's "
		    "needs serverAuth and clientAuth", xku == UINT32_MAX ?
		    "names no extended key usage" : !(xku & XKU_SSL_SERVER) ?
		    "lacks serverAuth" : "lacks clientAuth");
		return (-1);
	}
	if (cnet_cert_ident(crt, out, len) == -1) {
		snprintf(reason, rlen, "cannot read its certificate's key");
		return (-1);
	}
	/* TLS began before a new trust bundle: the new one decides. */
	if (SSL_get_SSL_CTX(ssl) != cnet_ctx && !cnet_trusted_now(ssl)) {
		snprintf(reason, rlen, "its certificate is not trusted by the "
		    "new trust bundle");
		return (-1);
	}
	return (0);
}

/*
 * Whether the peer certificate of a channel verifies against the trust
 * bundle of the current context (with the chain the peer sent).
 */
static int
cnet_trusted_now(SSL *ssl)
{
	X509_STORE_CTX	*xs;
	X509		*crt;
	int		 ok = 0;

	if (cnet_ctx == NULL || (crt = SSL_get0_peer_certificate(ssl)) == NULL)
		return (0);
	if ((xs = X509_STORE_CTX_new()) != NULL &&
	    X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(cnet_ctx), crt,
	    SSL_get_peer_cert_chain(ssl)) == 1) {
		X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs),
		    SSL_CTX_get0_param(cnet_ctx));
		ok = X509_verify_cert(xs) == 1;
	}
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return (ok);
}

/* OpenSSL frees a channel's SSL: it is no longer a live channel. */
static void
cnet_live_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct cnet_live	*l = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (l == NULL)
		return;
	TAILQ_REMOVE(&cnet_lives, l, entry);
	free(l);
}

/*
 * A new trust bundle for the running port, at once: channels from now on
 * are verified against it (our key and certificate are read again with
 * it, and must still be the identity the port started with). Channels
 * already up whose peer the new bundle does not trust are dropped (their
 * sockets shut down: the owners see them close as any lost link); the
 * others stay. -1 with *cause, and the old context stays in use.
 */
int
cnet_reload(const char *key, const char *crt, const char *trust,
    char **cause)
{
	struct cnet_live	*l;
	SSL_CTX			*ctx;
	char			 ident[65];
	int			 fd, dropped = 0;

	if (!cnet_running())
		return (0);
	if ((ctx = cnet_tls_ctx(key, crt, trust, cause)) == NULL)
		return (-1);
	if (cnet_cert_ident(SSL_CTX_get0_certificate(ctx), ident,
	    sizeof(ident)) == -1 || strcmp(ident, cnet_myident) != 0) {
		xasprintf(cause, "certificate %s is no longer the one this "
		    "node's cluster port started with; restart mmpd to use "
		    "it", crt);
		SSL_CTX_free(ctx);
		return (-1);
	}
	/* SSL objects hold a reference of their own to the old context. */
	SSL_CTX_free(cnet_ctx);
	cnet_ctx = ctx;
	TAILQ_FOREACH(l, &cnet_lives, entry) {
		if (SSL_get0_peer_certificate(l->ssl) == NULL ||
		    cnet_trusted_now(l->ssl))
			continue;
		if ((fd = SSL_get_fd(l->ssl)) != -1) {
			log_warnx("cluster: link with %s dropped: the new "
			    "trust bundle does not trust its certificate",
			    l->peer);
			shutdown(fd, SHUT_RDWR);
			dropped++;
		}
	}
	log_info("cnet_reload: trust bundle %s in use for new channels; "
	    "%d link%s dropped", trust, dropped, dropped == 1 ? "" : "s");
	return (0);
}

/* Our own identity (the SHA-256 of our key, hex); "" when not running. */
const char *
cnet_ident(void)
{
	return (cnet_myident);
}

/*
 * A TLS bufferevent on fd for a channel with peer (ip:port), accepting
 * or connecting; it owns fd from then on. NULL on failure, fd untouched.
 */
struct bufferevent *
cnet_tls_bev(int fd, int incoming, const char *peer)
{
	struct cnet_live	*l;
	struct bufferevent	*bev;
	SSL			*ssl;

	if (cnet_ctx == NULL || (ssl = SSL_new(cnet_ctx)) == NULL) {
		ERR_clear_error();
		return (NULL);
	}
	if (cnet_live_idx == -1 && (cnet_live_idx = SSL_get_ex_new_index(0,
	    NULL, NULL, NULL, cnet_live_free)) == -1)
		fatalx("cnet_tls_bev: no ex_data index");
	l = xcalloc(1, sizeof(*l));
	l->ssl = ssl;
	strlcpy(l->peer, peer, sizeof(l->peer));
	TAILQ_INSERT_TAIL(&cnet_lives, l, entry);
	if (SSL_set_ex_data(ssl, cnet_live_idx, l) != 1) {
		TAILQ_REMOVE(&cnet_lives, l, entry);
		free(l);
		SSL_free(ssl);
		ERR_clear_error();
		return (NULL);
	}
	bev = bufferevent_openssl_socket_new(mmpd->base, fd, ssl, incoming ?
	    BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		SSL_free(ssl);
	return (bev);
}

/* Drop the OpenSSL errors left by a closing channel's bufferevent. */
void
cnet_tls_clear(struct bufferevent *bev)
{
	while (bufferevent_get_openssl_error(bev) != 0)
		;
	ERR_clear_error();
}

/* Free a context cnet_tls_ctx made that the port did not take; NULL too. */
void
cnet_tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* Send a refused channel's TLS close_notify, dropping any error. */
void
cnet_tls_shutdown(struct bufferevent *bev)
{
	SSL	*ssl;

	if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
		SSL_shutdown(ssl);
	ERR_clear_error();
}
