/*
 * SASL for XMPP clients: SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802, RFC 7677)
 * and PLAIN (RFC 4616), server side, over stored SCRAM keys only: the
 * password itself is never stored.
 */
#ifndef XMPP_SASL_H
#define XMPP_SASL_H

#include <stddef.h>

#define SASL_SHA1		1
#define SASL_SHA256		2

#define SASL_MECH_PLAIN		1
#define SASL_MECH_SCRAM_SHA1	2
#define SASL_MECH_SCRAM_SHA256	3

#define SASL_SALT_LEN		16
#define SASL_ITERATIONS		4096	/* what we make creds with */
#define SASL_ITER_MIN		4096	/* stored or replicated creds with */
#define SASL_ITER_MAX		100000	/* other counts are refused */
#define SASL_MAX_KEY		32	/* SHA-256 output */

/* What is stored per account and hash: never the password. */
struct sasl_creds {
	int		 hash;			/* SASL_SHA1 or SASL_SHA256 */
	int		 iterations;
	unsigned char	 salt[SASL_SALT_LEN];
	size_t		 saltlen;		/* 1 to 16; 0 means 16 */
	unsigned char	 stored_key[SASL_MAX_KEY];
	unsigned char	 server_key[SASL_MAX_KEY];
	size_t		 keylen;		/* 20 or 32 */
};

/*
 * Look up an account's credentials for a hash. Returns 0 and fills *creds,
 * -1 when there is no such account, or -2 when the store failed (the
 * attempt then ends with temporary-auth-failure, never "no such user").
 */
typedef int (*sasl_lookup_cb)(void *, const char *, int, struct sasl_creds *);

/* Results of sasl_step. */
#define SASL_CONTINUE		0	/* send *out as a <challenge> */
#define SASL_SUCCESS		1	/* send *out (may be empty) in <success> */
#define SASL_FAILURE		2	/* send <failure> with *condition */
#define SASL_PENDING		3	/* PLAIN: sasl_work_take, run, done */

struct sasl_session;
struct sasl_work;

int		 sasl_creds_make(const char *, int, int, struct sasl_creds *);
int		 sasl_creds_derive(const char *, int, int,
		    const unsigned char *, size_t, struct sasl_creds *);
int		 sasl_mech_from_name(const char *);
const char	*sasl_mech_name(int);
struct sasl_session *sasl_new(int, sasl_lookup_cb, void *);
void		 sasl_free(struct sasl_session *);
int		 sasl_step(struct sasl_session *, const unsigned char *, size_t,
		    unsigned char **, size_t *, const char **);
const char	*sasl_username(const struct sasl_session *);
char		*sasl_b64_encode(const unsigned char *, size_t);
int		 sasl_b64_decode(const char *, unsigned char **, size_t *);
void		 sasl_test_nonce(const char *);
struct sasl_work *sasl_work_take(struct sasl_session *);
void		 sasl_work_run(void *);
int		 sasl_work_done(struct sasl_session *, struct sasl_work *,
		    const char **);
void		 sasl_work_free(struct sasl_work *);

#endif /* XMPP_SASL_H */
