/*
 * SASL for XMPP clients, server side: SCRAM-SHA-256 and SCRAM-SHA-1
 * (RFC 5802, RFC 7677) and PLAIN (RFC 4616), checked against stored SCRAM
 * keys. The daemon does the base64 of RFC 6120 section 6.4.2 around
 * sasl_step; everything here sees decoded bytes.
 */
#include <sys/types.h>

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "log.h"
#include "xmalloc.h"
#include "xmpp/sasl.h"

#define SASL_MAX_MSG		4096	/* longest client message we read */
#define SASL_MAX_USER		1023	/* longest authcid or authzid */
#define SASL_NONCE_LEN		18	/* random bytes in a server nonce */
#define SASL_SECRET_LEN		32

/* Where a session is. */
#define SASL_S_START		0	/* nothing received yet */
#define SASL_S_FIRST		1	/* sent an empty challenge */
#define SASL_S_FINAL		2	/* SCRAM: sent server-first */
#define SASL_S_DONE		3	/* succeeded */
#define SASL_S_FAILED		4	/* failed */
#define SASL_S_WORK		5	/* PLAIN: waiting for sasl_work_done */

/* RFC 6120 section 6.5 conditions. */
#define SASL_MALFORMED		"malformed-request"
#define SASL_NOT_AUTHORIZED	"not-authorized"
#define SASL_INVALID_AUTHZID	"invalid-authzid"
#define SASL_TEMPORARY		"temporary-auth-failure"

struct sasl_session {
	int			 mech;
	int			 hash;		/* SCRAM: the mechanism's */
	sasl_lookup_cb		 lookup;
	void			*arg;
	int			 state;
	char			*user;		/* claimed, then proven */
	char			*gs2;		/* SCRAM: gs2-header as sent */
	char			*bare;		/* client-first-message-bare */
	char			*sfirst;	/* server-first-message */
	char			*nonce;		/* client + server nonce */
	int			 known;		/* creds are the user's own */
	struct sasl_creds	 creds;
	struct sasl_work	*work;		/* PLAIN: until taken */
};

/*
 * PLAIN's key derivation, apart from the session so that it can run in
 * another thread and outlive the session: it owns copies of everything.
 */
struct sasl_work {
	unsigned char		*pass;
	size_t			 passlen;
	struct sasl_creds	 creds;		/* stored, or fake */
	int			 known;
	int			 result;	/* SASL_WORK_* */
};

#define SASL_WORK_ERROR		0	/* not run, or no derivation */
#define SASL_WORK_MATCH		1
#define SASL_WORK_MISMATCH	2

static const EVP_MD	*sasl_md(int, size_t *);
static int	 sasl_hmac(const EVP_MD *, const unsigned char *, size_t,
		    const void *, size_t, unsigned char *);
static int	 sasl_derive(const void *, size_t, int, int,
		    const unsigned char *, size_t, struct sasl_creds *);
static size_t	 sasl_saltlen(const struct sasl_creds *);
static int	 sasl_secret(unsigned char *);
static int	 sasl_fake_creds(const char *, int, struct sasl_creds *);
static int	 sasl_lookup(struct sasl_session *, int);
static int	 sasl_authzid_ok(const char *, const char *);
static int	 sasl_b64_value(int);
static int	 sasl_plain(struct sasl_session *, const unsigned char *,
		    size_t, const char **);
static int	 sasl_scram_unescape(const char *, size_t, char **);
static int	 sasl_scram_printable(const char *);
static int	 sasl_scram_ext(const char *);
static char	*sasl_scram_nonce(void);
static int	 sasl_scram_first(struct sasl_session *, const char *,
		    unsigned char **, size_t *, const char **);
static int	 sasl_scram_final(struct sasl_session *, const char *,
		    unsigned char **, size_t *, const char **);

static const char	 sasl_b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static pthread_mutex_t	 sasl_secret_mtx = PTHREAD_MUTEX_INITIALIZER;
static unsigned char	 sasl_secret_buf[SASL_SECRET_LEN];
static int		 sasl_secret_ready;
static char		 sasl_fixed_nonce[128];

/* The digest for a SASL_SHA* value and its output length, or NULL. */
static const EVP_MD *
sasl_md(int hash, size_t *keylen)
{
	switch (hash) {
	case SASL_SHA1:
		*keylen = 20;
		return (EVP_sha1());
	case SASL_SHA256:
		*keylen = 32;
		return (EVP_sha256());
	}
	*keylen = 0;
	return (NULL);
}

/* HMAC of data under key into out (EVP_MD_get_size bytes); 0 or -1. */
static int
sasl_hmac(const EVP_MD *md, const unsigned char *key, size_t keylen,
    const void *data, size_t len, unsigned char *out)
{
	unsigned int	 outlen = 0;

	if (keylen > INT_MAX)
		return (-1);
	if (HMAC(md, key, (int)keylen, data, len, out, &outlen) == NULL)
		return (-1);
	return (0);
}

/*
 * Fill creds from a password of passlen bytes: SaltedPassword, then
 * StoredKey and ServerKey as RFC 5802 section 3 has them. 0 or -1; on
 * failure creds is wiped.
 */
static int
sasl_derive(const void *pass, size_t passlen, int hash, int iterations,
    const unsigned char *salt, size_t saltlen, struct sasl_creds *creds)
{
	unsigned char	 salted[SASL_MAX_KEY], ckey[SASL_MAX_KEY];
	const EVP_MD	*md = NULL;
	size_t		 keylen;
	int		 rc = -1;

	memset(creds, 0, sizeof(*creds));
	if ((md = sasl_md(hash, &keylen)) == NULL)
		goto out;
	if (saltlen == 0 || saltlen > SASL_SALT_LEN || iterations < 1 ||
	    iterations > SASL_ITER_MAX || passlen > INT_MAX)
		goto out;
	if (PKCS5_PBKDF2_HMAC(pass, (int)passlen, salt, (int)saltlen,
	    iterations, md, (int)keylen, salted) != 1)
		goto out;
	if (sasl_hmac(md, salted, keylen, "Client Key", 10, ckey) == -1)
		goto out;
	if (EVP_Digest(ckey, keylen, creds->stored_key, NULL, md, NULL) != 1)
		goto out;
	if (sasl_hmac(md, salted, keylen, "Server Key", 10,
	    creds->server_key) == -1)
		goto out;
	creds->hash = hash;
	creds->iterations = iterations;
	memcpy(creds->salt, salt, saltlen);
	creds->saltlen = saltlen;
	creds->keylen = keylen;
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ckey, sizeof(ckey));
	if (rc == -1)
		OPENSSL_cleanse(creds, sizeof(*creds));
	return (rc);
}

/* Derive creds for password with a given salt; 0, or -1 on bad input. */
int
sasl_creds_derive(const char *password, int hash, int iterations,
    const unsigned char *salt, size_t saltlen, struct sasl_creds *creds)
{
	if (password == NULL || *password == '\0' || salt == NULL ||
	    iterations < SASL_ITER_MIN || iterations > SASL_ITER_MAX) {
		OPENSSL_cleanse(creds, sizeof(*creds));
		return (-1);
	}
	return (sasl_derive(password, strlen(password), hash, iterations,
	    salt, saltlen, creds));
}

/* Make creds for password under a fresh random salt; 0 or -1. */
int
sasl_creds_make(const char *password, int hash, int iterations,
    struct sasl_creds *creds)
{
	unsigned char	 salt[SASL_SALT_LEN];
	int		 rc = -1;

	OPENSSL_cleanse(creds, sizeof(*creds));
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		goto out;
	rc = sasl_creds_derive(password, hash, iterations, salt, sizeof(salt),
	    creds);
out:
	OPENSSL_cleanse(salt, sizeof(salt));
	return (rc);
}

/* Stored salt length: 0 stands for a full SASL_SALT_LEN. */
static size_t
sasl_saltlen(const struct sasl_creds *creds)
{
	return (creds->saltlen == 0 ? SASL_SALT_LEN : creds->saltlen);
}

/* Copy the per-process secret for fake salts into buf; 0 or -1. */
static int
sasl_secret(unsigned char *buf)
{
	int	 rc = -1;

	pthread_mutex_lock(&sasl_secret_mtx);
	if (!sasl_secret_ready) {
		if (RAND_bytes(sasl_secret_buf, sizeof(sasl_secret_buf)) != 1)
			goto out;
		sasl_secret_ready = 1;
	}
	memcpy(buf, sasl_secret_buf, sizeof(sasl_secret_buf));
	rc = 0;
out:
	pthread_mutex_unlock(&sasl_secret_mtx);
	return (rc);
}

/*
 * Creds for a user who does not exist: the salt is an HMAC of the name
 * under a per-process secret, so asking twice gives the same answer and
 * nothing tells the client that the account is missing. The keys are
 * zero; the caller fails the exchange whatever the proof.
 */
static int
sasl_fake_creds(const char *user, int hash, struct sasl_creds *creds)
{
	unsigned char	 secret[SASL_SECRET_LEN], mac[SASL_MAX_KEY];
	char		*msg = NULL;
	size_t		 keylen;
	int		 rc = -1, len;

	memset(creds, 0, sizeof(*creds));
	if (sasl_md(hash, &keylen) == NULL)
		goto out;
	if (sasl_secret(secret) == -1)
		goto out;
	len = xasprintf(&msg, "salt %d %s", hash, user);
	if (sasl_hmac(EVP_sha256(), secret, sizeof(secret), msg, (size_t)len,
	    mac) == -1)
		goto out;
	creds->hash = hash;
	creds->iterations = SASL_ITERATIONS;
	memcpy(creds->salt, mac, SASL_SALT_LEN);
	creds->saltlen = SASL_SALT_LEN;
	creds->keylen = keylen;
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(mac, sizeof(mac));
	free(msg);
	return (rc);
}

/*
 * Ask the callback for s->user's creds under hash into s->creds. 0, -1
 * when there are none usable (missing, or not what was asked for), -2
 * when the store failed.
 */
static int
sasl_lookup(struct sasl_session *s, int hash)
{
	struct sasl_creds	*c = &s->creds;
	size_t			 keylen;
	int			 rc = -1;

	memset(c, 0, sizeof(*c));
	if (s->lookup == NULL || (rc = s->lookup(s->arg, s->user, hash,
	    c)) != 0) {
		OPENSSL_cleanse(c, sizeof(*c));
		return (rc == -2 ? -2 : -1);
	}
	if (sasl_md(hash, &keylen) == NULL || c->hash != hash ||
	    c->keylen != keylen || c->iterations < SASL_ITER_MIN ||
	    c->iterations > SASL_ITER_MAX || c->saltlen > SASL_SALT_LEN) {
		log_warnx("sasl_lookup: unusable stored credentials");
		OPENSSL_cleanse(c, sizeof(*c));
		return (-1);
	}
	return (0);
}

/*
 * An authzid is allowed when empty, equal to the authcid, or a JID whose
 * localpart is the authcid ("authcid@...").
 */
static int
sasl_authzid_ok(const char *authzid, const char *authcid)
{
	size_t	 len = strlen(authcid);

	if (*authzid == '\0' || strcmp(authzid, authcid) == 0)
		return (1);
	return (strncmp(authzid, authcid, len) == 0 && authzid[len] == '@');
}

/* The mechanism for a name as offered in <mechanisms>, or 0. */
int
sasl_mech_from_name(const char *name)
{
	if (name == NULL)
		return (0);
	if (strcmp(name, "SCRAM-SHA-256") == 0)
		return (SASL_MECH_SCRAM_SHA256);
	if (strcmp(name, "SCRAM-SHA-1") == 0)
		return (SASL_MECH_SCRAM_SHA1);
	if (strcmp(name, "PLAIN") == 0)
		return (SASL_MECH_PLAIN);
	return (0);
}

/* The name of a mechanism, or NULL; the string is static. */
const char *
sasl_mech_name(int mech)
{
	switch (mech) {
	case SASL_MECH_SCRAM_SHA256:
		return ("SCRAM-SHA-256");
	case SASL_MECH_SCRAM_SHA1:
		return ("SCRAM-SHA-1");
	case SASL_MECH_PLAIN:
		return ("PLAIN");
	}
	return (NULL);
}

/* A new exchange for mech; NULL for an unknown mechanism. */
struct sasl_session *
sasl_new(int mech, sasl_lookup_cb lookup, void *arg)
{
	struct sasl_session	*s = NULL;

	if (sasl_mech_name(mech) == NULL)
		return (NULL);
	s = xcalloc(1, sizeof(*s));
	s->mech = mech;
	if (mech == SASL_MECH_SCRAM_SHA1)
		s->hash = SASL_SHA1;
	else if (mech == SASL_MECH_SCRAM_SHA256)
		s->hash = SASL_SHA256;
	s->lookup = lookup;
	s->arg = arg;
	s->state = SASL_S_START;
	return (s);
}

/* Free an exchange and wipe what it held; NULL does nothing. */
void
sasl_free(struct sasl_session *s)
{
	if (s == NULL)
		return;
	free(s->user);
	free(s->gs2);
	free(s->bare);
	free(s->sfirst);
	free(s->nonce);
	sasl_work_free(s->work);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

/* The username claimed or proven so far, or NULL; borrowed from s. */
const char *
sasl_username(const struct sasl_session *s)
{
	return (s->user);
}

/*
 * PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. The password will be
 * run through the stored salt and iterations and compared as a StoredKey;
 * a missing user costs the same PBKDF2 before failing. That derivation is
 * slow by design, so it is not done here: the message is checked, the
 * creds are looked up, and s->work is left for sasl_work_take.
 */
static int
sasl_plain(struct sasl_session *s, const unsigned char *in, size_t inlen,
    const char **condition)
{
	const unsigned char	*nul1, *nul2, *pass, *end = in + inlen;
	struct sasl_work	*w;
	char			*authzid = NULL;
	size_t			 passlen;
	int			 rv = SASL_FAILURE, known;

	*condition = SASL_MALFORMED;
	if ((nul1 = memchr(in, '\0', inlen)) == NULL)
		goto out;
	if ((nul2 = memchr(nul1 + 1, '\0', end - (nul1 + 1))) == NULL)
		goto out;
	pass = nul2 + 1;
	passlen = end - pass;
	if (memchr(pass, '\0', passlen) != NULL)
		goto out;
	if (nul1 - in > SASL_MAX_USER || nul2 - (nul1 + 1) > SASL_MAX_USER ||
	    nul2 == nul1 + 1 || passlen == 0)
		goto out;
	authzid = xstrndup((const char *)in, nul1 - in);
	s->user = xstrndup((const char *)(nul1 + 1), nul2 - (nul1 + 1));
	if (!sasl_authzid_ok(authzid, s->user)) {
		*condition = SASL_INVALID_AUTHZID;
		goto out;
	}

	*condition = SASL_TEMPORARY;
	if ((known = sasl_lookup(s, SASL_SHA256)) == -1)
		known = sasl_lookup(s, SASL_SHA1);
	if (known == -2)
		goto out;
	known = known == 0;
	if (!known && sasl_fake_creds(s->user, SASL_SHA256, &s->creds) == -1)
		goto out;
	w = xcalloc(1, sizeof(*w));
	w->pass = xmalloc(passlen);
	memcpy(w->pass, pass, passlen);
	w->passlen = passlen;
	w->creds = s->creds;
	w->known = known;
	s->work = w;
	s->state = SASL_S_WORK;
	*condition = NULL;
	rv = SASL_PENDING;
out:
	free(authzid);
	return (rv);
}

/*
 * The work of a session that answered SASL_PENDING; the caller owns it
 * and hands it to sasl_work_run, then sasl_work_done. NULL if none.
 */
struct sasl_work *
sasl_work_take(struct sasl_session *s)
{
	struct sasl_work	*w = s->work;

	s->work = NULL;
	return (w);
}

/*
 * Derive the key from the password and compare it (PBKDF2: slow). Safe
 * in any thread: it touches nothing but the work itself.
 */
void
sasl_work_run(void *arg)
{
	struct sasl_work	*w = arg;
	struct sasl_creds	 try;

	w->result = SASL_WORK_ERROR;
	if (sasl_derive(w->pass, w->passlen, w->creds.hash,
	    w->creds.iterations, w->creds.salt, sasl_saltlen(&w->creds),
	    &try) == 0)
		w->result = CRYPTO_memcmp(try.stored_key, w->creds.stored_key,
		    w->creds.keylen) == 0 && w->known ? SASL_WORK_MATCH :
		    SASL_WORK_MISMATCH;
	OPENSSL_cleanse(&try, sizeof(try));
	OPENSSL_cleanse(w->pass, w->passlen);
}

/*
 * Finish s with the outcome of its work w, which is freed: SASL_SUCCESS,
 * or SASL_FAILURE with a static *condition.
 */
int
sasl_work_done(struct sasl_session *s, struct sasl_work *w,
    const char **condition)
{
	int	 rv = SASL_FAILURE;

	*condition = SASL_MALFORMED;
	if (s->state != SASL_S_WORK || w == NULL)
		goto out;
	switch (w->result) {
	case SASL_WORK_MATCH:
		*condition = NULL;
		rv = SASL_SUCCESS;
		break;
	case SASL_WORK_MISMATCH:
		*condition = SASL_NOT_AUTHORIZED;
		break;
	default:
		*condition = SASL_TEMPORARY;
		break;
	}
out:
	s->state = rv == SASL_SUCCESS ? SASL_S_DONE : SASL_S_FAILED;
	sasl_work_free(w);
	return (rv);
}

/* Free work and wipe the password it held; NULL does nothing. */
void
sasl_work_free(struct sasl_work *w)
{
	if (w == NULL)
		return;
	OPENSSL_cleanse(w->pass, w->passlen);
	free(w->pass);
	OPENSSL_cleanse(w, sizeof(*w));
	free(w);
}

/*
 * Decode a SCRAM saslname of len bytes, already cut at ',' ("=2C" is ',',
 * "=3D" is '=', no other '=') into an allocated *out; -1 when malformed,
 * empty or too long.
 */
static int
sasl_scram_unescape(const char *in, size_t len, char **out)
{
	char	*buf = NULL;
	size_t	 i, o;

	*out = NULL;
	if (len == 0)
		return (-1);
	buf = xmalloc(len + 1);
	for (i = 0, o = 0; i < len; i++) {
		if (in[i] != '=') {
			buf[o++] = in[i];
			continue;
		}
		if (len - i >= 3 && strncmp(in + i + 1, "2C", 2) == 0)
			buf[o++] = ',';
		else if (len - i >= 3 && strncmp(in + i + 1, "3D", 2) == 0)
			buf[o++] = '=';
		else {
			free(buf);
			return (-1);
		}
		i += 2;
	}
	buf[o] = '\0';
	if (o > SASL_MAX_USER) {
		free(buf);
		return (-1);
	}
	*out = buf;
	return (0);
}

/* Whether s is a non-empty run of printable ASCII other than ','. */
static int
sasl_scram_printable(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++) {
		if (*s < 0x21 || *s > 0x7e || *s == ',')
			return (0);
	}
	return (1);
}

/*
 * Whether a is an extension we may ignore: ALPHA "=" value. "m=" is
 * reserved for mandatory extensions (RFC 5802 section 5.1), which we do
 * not know, so it fails.
 */
static int
sasl_scram_ext(const char *a)
{
	if (!((a[0] >= 'a' && a[0] <= 'z') || (a[0] >= 'A' && a[0] <= 'Z')))
		return (0);
	return (a[0] != 'm' && a[1] == '=' && a[2] != '\0');
}

/* A fresh server nonce, allocated, or NULL when the RNG fails. */
static char *
sasl_scram_nonce(void)
{
	unsigned char	 rnd[SASL_NONCE_LEN];

	if (sasl_fixed_nonce[0] != '\0')
		return (xstrdup(sasl_fixed_nonce));
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return (NULL);
	return (sasl_b64_encode(rnd, sizeof(rnd)));
}

/* Use a fixed server nonce (tests only); NULL goes back to random ones. */
void
sasl_test_nonce(const char *nonce)
{
	if (nonce == NULL)
		sasl_fixed_nonce[0] = '\0';
	else
		strlcpy(sasl_fixed_nonce, nonce, sizeof(sasl_fixed_nonce));
}

/*
 * SCRAM client-first-message (RFC 5802 section 7): gs2-header, then
 * n=user,r=cnonce[,ext]. We offer no -PLUS mechanism, so "p=" is refused
 * and "y" (client could bind but thinks we cannot) is right. An unknown
 * user gets fake creds and a normal server-first; the final step fails.
 */
static int
sasl_scram_first(struct sasl_session *s, const char *msg,
    unsigned char **out, size_t *outlen, const char **condition)
{
	const char	*p, *q, *cnonce;
	char		*authzid = NULL, *copy = NULL, *cp, *a;
	char		*snonce = NULL, *salt = NULL;
	int		 rv = SASL_FAILURE, len;

	*condition = SASL_MALFORMED;
	if ((msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
		goto out;
	p = msg + 2;
	if (strncmp(p, "a=", 2) == 0) {
		if ((q = strchr(p, ',')) == NULL)
			goto out;
		if (sasl_scram_unescape(p + 2, q - (p + 2), &authzid) == -1)
			goto out;
		p = q + 1;
	} else if (*p == ',')
		p++;
	else
		goto out;
	s->gs2 = xstrndup(msg, p - msg);
	s->bare = xstrdup(p);

	cp = copy = xstrdup(p);
	a = strsep(&cp, ",");
	if (strncmp(a, "n=", 2) != 0 ||
	    sasl_scram_unescape(a + 2, strlen(a + 2), &s->user) == -1)
		goto out;
	if ((a = strsep(&cp, ",")) == NULL || strncmp(a, "r=", 2) != 0 ||
	    !sasl_scram_printable(a + 2))
		goto out;
	cnonce = a + 2;
	while ((a = strsep(&cp, ",")) != NULL) {
		if (!sasl_scram_ext(a))
			goto out;
	}
	if (authzid != NULL && !sasl_authzid_ok(authzid, s->user)) {
		*condition = SASL_INVALID_AUTHZID;
		goto out;
	}

	*condition = SASL_TEMPORARY;
	if ((s->known = sasl_lookup(s, s->hash)) == -2)
		goto out;
	s->known = s->known == 0;
	if (!s->known && sasl_fake_creds(s->user, s->hash, &s->creds) == -1)
		goto out;
	if ((snonce = sasl_scram_nonce()) == NULL)
		goto out;
	xasprintf(&s->nonce, "%s%s", cnonce, snonce);
	salt = sasl_b64_encode(s->creds.salt, sasl_saltlen(&s->creds));
	len = xasprintf(&s->sfirst, "r=%s,s=%s,i=%d", s->nonce, salt,
	    s->creds.iterations);
	*out = (unsigned char *)xstrdup(s->sfirst);
	*outlen = (size_t)len;
	*condition = NULL;
	s->state = SASL_S_FINAL;
	rv = SASL_CONTINUE;
out:
	free(authzid);
	free(copy);
	free(snonce);
	free(salt);
	return (rv);
}

/*
 * SCRAM client-final-message: c=base64(gs2-header),r=nonce[,ext],p=proof.
 * ClientKey is the proof XOR HMAC(StoredKey, AuthMessage); it must hash
 * to StoredKey. Success carries v=ServerSignature as additional data.
 */
static int
sasl_scram_final(struct sasl_session *s, const char *msg,
    unsigned char **out, size_t *outlen, const char **condition)
{
	unsigned char	 sig[SASL_MAX_KEY], ckey[SASL_MAX_KEY];
	unsigned char	 h[SASL_MAX_KEY];
	unsigned char	*cbind = NULL, *proof = NULL;
	const EVP_MD	*md = NULL;
	char		*copy = NULL, *cp, *a, *authmsg = NULL, *v = NULL;
	char		*reply = NULL;
	size_t		 keylen, cbindlen, prooflen, i;
	int		 rv = SASL_FAILURE, len;

	*condition = SASL_MALFORMED;
	cp = copy = xstrdup(msg);
	if ((a = strrchr(copy, ',')) == NULL || strncmp(a, ",p=", 3) != 0)
		goto out;
	*a = '\0';
	if (sasl_b64_decode(a + 3, &proof, &prooflen) == -1)
		goto out;
	len = xasprintf(&authmsg, "%s,%s,%s", s->bare, s->sfirst, copy);

	a = strsep(&cp, ",");
	if (strncmp(a, "c=", 2) != 0 ||
	    sasl_b64_decode(a + 2, &cbind, &cbindlen) == -1 ||
	    cbindlen != strlen(s->gs2) || memcmp(cbind, s->gs2, cbindlen) != 0)
		goto out;
	if ((a = strsep(&cp, ",")) == NULL || strncmp(a, "r=", 2) != 0 ||
	    strcmp(a + 2, s->nonce) != 0)
		goto out;
	while ((a = strsep(&cp, ",")) != NULL) {
		if (!sasl_scram_ext(a))
			goto out;
	}
	md = sasl_md(s->hash, &keylen);
	if (md == NULL || prooflen != keylen || s->creds.keylen != keylen)
		goto out;

	*condition = SASL_TEMPORARY;
	if (sasl_hmac(md, s->creds.stored_key, keylen, authmsg, (size_t)len,
	    sig) == -1)
		goto out;
	for (i = 0; i < keylen; i++)
		ckey[i] = proof[i] ^ sig[i];
	if (EVP_Digest(ckey, keylen, h, NULL, md, NULL) != 1)
		goto out;
	if (CRYPTO_memcmp(h, s->creds.stored_key, keylen) != 0 || !s->known) {
		*condition = SASL_NOT_AUTHORIZED;
		goto out;
	}
	if (sasl_hmac(md, s->creds.server_key, keylen, authmsg, (size_t)len,
	    sig) == -1)
		goto out;
	v = sasl_b64_encode(sig, keylen);
	len = xasprintf(&reply, "v=%s", v);
	*out = (unsigned char *)reply;
	*outlen = (size_t)len;
	*condition = NULL;
	rv = SASL_SUCCESS;
out:
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(ckey, sizeof(ckey));
	OPENSSL_cleanse(h, sizeof(h));
	if (proof != NULL)
		OPENSSL_cleanse(proof, prooflen);
	free(proof);
	free(cbind);
	free(copy);
	free(authmsg);
	free(v);
	return (rv);
}

/*
 * Feed one decoded client message (inlen 0 for none). *out gets an
 * allocated reply the caller frees, or NULL with *outlen 0; on
 * SASL_FAILURE *condition is a static RFC 6120 condition name. A failed
 * or finished session refuses anything further, and so does one that
 * answered SASL_PENDING until its work is done.
 */
int
sasl_step(struct sasl_session *s, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen, const char **condition)
{
	char	*msg = NULL;
	int	 rv = SASL_FAILURE;

	*out = NULL;
	*outlen = 0;
	*condition = SASL_MALFORMED;
	if (s->state == SASL_S_DONE || s->state == SASL_S_FAILED ||
	    s->state == SASL_S_WORK)
		goto out;
	if (inlen > SASL_MAX_MSG || (inlen > 0 && in == NULL))
		goto out;
	if (inlen == 0) {
		/* RFC 6120 6.4.2: no initial response, an empty challenge. */
		if (s->state != SASL_S_START)
			goto out;
		s->state = SASL_S_FIRST;
		*condition = NULL;
		rv = SASL_CONTINUE;
		goto out;
	}
	if (s->mech == SASL_MECH_PLAIN) {
		rv = sasl_plain(s, in, inlen, condition);
		goto out;
	}
	if (memchr(in, '\0', inlen) != NULL)
		goto out;
	msg = xstrndup((const char *)in, inlen);
	if (s->state == SASL_S_FINAL)
		rv = sasl_scram_final(s, msg, out, outlen, condition);
	else
		rv = sasl_scram_first(s, msg, out, outlen, condition);
out:
	if (rv == SASL_SUCCESS)
		s->state = SASL_S_DONE;
	if (rv == SASL_FAILURE) {
		s->state = SASL_S_FAILED;
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	if (rv != SASL_CONTINUE)
		OPENSSL_cleanse(&s->creds, sizeof(s->creds));
	free(msg);
	return (rv);
}

/* Base64 (RFC 4648, with padding) of len bytes; allocated, NUL-ended. */
char *
sasl_b64_encode(const unsigned char *buf, size_t len)
{
	char		*out = NULL;
	size_t		 i, o;
	uint32_t	 v;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		fatalx("sasl_b64_encode: %zu bytes is too long", len);
	out = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0, o = 0; i + 2 < len; i += 3) {
		v = (uint32_t)buf[i] << 16 | (uint32_t)buf[i + 1] << 8 |
		    buf[i + 2];
		out[o++] = sasl_b64_chars[v >> 18 & 0x3f];
		out[o++] = sasl_b64_chars[v >> 12 & 0x3f];
		out[o++] = sasl_b64_chars[v >> 6 & 0x3f];
		out[o++] = sasl_b64_chars[v & 0x3f];
	}
	if (i < len) {
		v = (uint32_t)buf[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)buf[i + 1] << 8;
		out[o++] = sasl_b64_chars[v >> 18 & 0x3f];
		out[o++] = sasl_b64_chars[v >> 12 & 0x3f];
		out[o++] = i + 1 < len ? sasl_b64_chars[v >> 6 & 0x3f] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (out);
}

/* The value of a base64 character, or -1. */
static int
sasl_b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/*
 * Decode strict base64: whole quartets, '=' only as final padding, unused
 * bits zero, nothing else. A lone "=" (XMPP's empty response) is zero
 * bytes. On success *buf is allocated with a NUL after the *len bytes.
 */
int
sasl_b64_decode(const char *str, unsigned char **bufp, size_t *lenp)
{
	unsigned char	*buf = NULL;
	size_t		 slen, pad = 0, i, o;
	uint32_t	 acc = 0;
	int		 v, bits = 0, rc = -1;

	*bufp = NULL;
	*lenp = 0;
	slen = strlen(str);
	if (strcmp(str, "=") == 0)
		slen = 0;
	if (slen % 4 != 0)
		goto out;
	if (slen > 0 && str[slen - 1] == '=') {
		pad++;
		if (str[slen - 2] == '=')
			pad++;
	}
	buf = xmalloc(slen / 4 * 3 + 1);
	for (i = 0, o = 0; i < slen - pad; i++) {
		if ((v = sasl_b64_value((unsigned char)str[i])) == -1)
			goto out;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = acc >> bits & 0xff;
		}
	}
	if ((acc & ((1U << bits) - 1)) != 0)
		goto out;
	buf[o] = '\0';
	*bufp = buf;
	*lenp = o;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return (rc);
}
