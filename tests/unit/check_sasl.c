/*
 * Unit tests for daemon/xmpp/sasl.c: base64, stored credentials, PLAIN
 * and SCRAM-SHA-1/-256 exchanges, including the RFC 5802 and RFC 7677
 * test vectors, replayed byte for byte.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "xmpp/sasl.h"
#include "unit.h"

/* One account, with creds per SASL_SHA* and a record of the lookups. */
struct testdb {
	const char		*user;
	struct sasl_creds	 creds[3];
	int			 have[3];
	int			 calls;
	int			 lasthash;
};

static int	 db_lookup(void *, const char *, int, struct sasl_creds *);
static void	 db_init(struct testdb *, const char *, const char *,
		    const char *, int);
static int	 step(struct sasl_session *, const void *, size_t, char **,
		    const char **);
static int	 step_str(struct sasl_session *, const char *, char **,
		    const char **);
static void	 expect_fail(int, const char **, const char *);
static int	 sfirst_parse(const char *, char **, unsigned char **,
		    size_t *);
static void	 scram_client(int, const char *, const char *, const char *,
		    const char *, char **, char **);
static int	 scram_run(int, const char *, const char *, const char *,
		    struct testdb *, const char **);
static void	 nonce_reset(void);
static Suite	*sasl_suite(void);

#define V1_CNONCE	"fyko+d2lbbFgONRv9qkxdawL"
#define V1_SNONCE	"3rfcNHYJY1ZVvWVs7j"
#define V1_SALT		"QSXCR+Q6sek8bf92"
#define V1_FIRST	"n,,n=user,r=" V1_CNONCE
#define V1_SFIRST	"r=" V1_CNONCE V1_SNONCE ",s=" V1_SALT ",i=4096"
#define V1_R		"r=" V1_CNONCE V1_SNONCE
#define V1_P		",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
#define V1_FINAL	"c=biws," V1_R V1_P
#define V1_SFINAL	"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

#define V256_CNONCE	"rOprNGfwEbeRWgbNEkqO"
#define V256_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V256_SALT	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define V256_FIRST	"n,,n=user,r=" V256_CNONCE
#define V256_SFIRST	"r=" V256_CNONCE V256_SNONCE ",s=" V256_SALT \
			",i=4096"
#define V256_FINAL	"c=biws,r=" V256_CNONCE V256_SNONCE \
			",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V256_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

#define HAVE_SHA1	0x1
#define HAVE_SHA256	0x2

/* Lookup callback over a testdb. */
static int
db_lookup(void *arg, const char *user, int hash, struct sasl_creds *creds)
{
	struct testdb	*db = arg;

	db->calls++;
	db->lasthash = hash;
	ck_assert(hash == SASL_SHA1 || hash == SASL_SHA256);
	if (strcmp(user, db->user) != 0 || !db->have[hash])
		return (-1);
	*creds = db->creds[hash];
	return (0);
}

/*
 * An account user/password with creds for the hashes in the HAVE_* mask,
 * under the base64 salt given, or fresh random salts when it is NULL.
 */
static void
db_init(struct testdb *db, const char *user, const char *password,
    const char *salt64, int hashes)
{
	unsigned char	*salt = NULL;
	size_t		 saltlen = 0;
	int		 hash;

	memset(db, 0, sizeof(*db));
	db->user = user;
	if (salt64 != NULL)
		ck_assert_int_eq(sasl_b64_decode(salt64, &salt, &saltlen), 0);
	for (hash = SASL_SHA1; hash <= SASL_SHA256; hash++) {
		if (!(hashes & (hash == SASL_SHA1 ? HAVE_SHA1 : HAVE_SHA256)))
			continue;
		if (salt != NULL)
			ck_assert_int_eq(sasl_creds_derive(password, hash,
			    SASL_ITERATIONS, salt, saltlen, &db->creds[hash]),
			    0);
		else
			ck_assert_int_eq(sasl_creds_make(password, hash,
			    SASL_ITERATIONS, &db->creds[hash]), 0);
		db->have[hash] = 1;
	}
	free(salt);
}

/*
 * One sasl_step with inlen bytes; *out gets a NUL-terminated copy of the
 * reply (NULL when there is none), which the caller frees.
 */
static int
step(struct sasl_session *s, const void *in, size_t inlen, char **out,
    const char **cond)
{
	struct sasl_work *w;
	unsigned char	*buf = NULL;
	size_t		 len = 12345;
	int		 rv;

	*out = NULL;
	*cond = "unset";
	rv = sasl_step(s, in, inlen, &buf, &len, cond);
	if (rv == SASL_PENDING) {
		/* PLAIN: what mmpd does in a worker thread, done here. */
		ck_assert_ptr_null(*cond);
		ck_assert_ptr_null(buf);
		ck_assert_ptr_nonnull(w = sasl_work_take(s));
		ck_assert_ptr_null(sasl_work_take(s));
		sasl_work_run(w);
		rv = sasl_work_done(s, w, cond);
	}
	if (rv == SASL_FAILURE) {
		ck_assert_ptr_nonnull(*cond);
		ck_assert_ptr_null(buf);
		ck_assert_uint_eq(len, 0);
	} else
		ck_assert_ptr_null(*cond);
	if (buf == NULL)
		ck_assert_uint_eq(len, 0);
	else {
		ck_assert_uint_gt(len, 0);
		*out = malloc(len + 1);
		ck_assert_ptr_nonnull(*out);
		memcpy(*out, buf, len);
		(*out)[len] = '\0';
		ck_assert_uint_eq(strlen(*out), len);
		free(buf);
	}
	return (rv);
}

/* One sasl_step with a string. */
static int
step_str(struct sasl_session *s, const char *in, char **out,
    const char **cond)
{
	return (step(s, in, strlen(in), out, cond));
}

/*
 * Check a result is a failure with the condition want; cond is passed by
 * address so that it is read after the step that sets it.
 */
static void
expect_fail(int rv, const char **cond, const char *want)
{
	ck_assert_int_eq(rv, SASL_FAILURE);
	ck_assert_str_eq(*cond, want);
}

/*
 * Split a server-first-message r=nonce,s=salt,i=n: *nonce and *salt are
 * allocated; returns n.
 */
static int
sfirst_parse(const char *sfirst, char **nonce, unsigned char **salt,
    size_t *saltlen)
{
	const char	*sp, *ip;
	char		*salt64 = NULL;

	ck_assert_int_eq(strncmp(sfirst, "r=", 2), 0);
	ck_assert_ptr_nonnull(sp = strstr(sfirst, ",s="));
	ck_assert_ptr_nonnull(ip = strstr(sfirst, ",i="));
	ck_assert_ptr_nonnull(*nonce = strndup(sfirst + 2, sp - (sfirst + 2)));
	ck_assert_ptr_nonnull(salt64 = strndup(sp + 3, ip - (sp + 3)));
	ck_assert_int_eq(sasl_b64_decode(salt64, salt, saltlen), 0);
	free(salt64);
	return (atoi(ip + 3));
}

/*
 * The client side of SCRAM, written here from RFC 5802 section 3 with
 * libcrypto directly: given the server-first, build the client-final
 * (*final) and the server-final the client should then get (*expect).
 */
static void
scram_client(int hash, const char *password, const char *gs2,
    const char *bare, const char *sfirst, char **final, char **expect)
{
	unsigned char	 salted[32], ckey[32], skey[32], sig[32], proof[32];
	unsigned char	 stored[32];
	unsigned char	*salt = NULL;
	const EVP_MD	*md;
	char		*nonce = NULL, *cbind = NULL;
	char		*wop = NULL, *authmsg = NULL, *p64 = NULL, *v64 = NULL;
	size_t		 saltlen, keylen, i;
	unsigned int	 mlen;
	int		 iter;

	md = hash == SASL_SHA1 ? EVP_sha1() : EVP_sha256();
	keylen = (size_t)EVP_MD_get_size(md);
	iter = sfirst_parse(sfirst, &nonce, &salt, &saltlen);

	ck_assert_int_eq(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
	    salt, (int)saltlen, iter, md, (int)keylen, salted), 1);
	ck_assert_ptr_nonnull(HMAC(md, salted, (int)keylen, (const void *)
	    "Client Key", 10, ckey, &mlen));
	ck_assert_ptr_nonnull(HMAC(md, salted, (int)keylen, (const void *)
	    "Server Key", 10, skey, &mlen));
	ck_assert_int_eq(EVP_Digest(ckey, keylen, stored, NULL, md, NULL), 1);

	cbind = sasl_b64_encode((const unsigned char *)gs2, strlen(gs2));
	ck_assert_int_gt(asprintf(&wop, "c=%s,r=%s", cbind, nonce), 0);
	ck_assert_int_gt(asprintf(&authmsg, "%s,%s,%s", bare, sfirst, wop), 0);
	ck_assert_ptr_nonnull(HMAC(md, stored, (int)keylen, (const void *)
	    authmsg, strlen(authmsg), sig, &mlen));
	for (i = 0; i < keylen; i++)
		proof[i] = ckey[i] ^ sig[i];
	p64 = sasl_b64_encode(proof, keylen);
	ck_assert_int_gt(asprintf(final, "%s,p=%s", wop, p64), 0);
	ck_assert_ptr_nonnull(HMAC(md, skey, (int)keylen, (const void *)
	    authmsg, strlen(authmsg), sig, &mlen));
	v64 = sasl_b64_encode(sig, keylen);
	ck_assert_int_gt(asprintf(expect, "v=%s", v64), 0);

	free(salt);
	free(nonce);
	free(cbind);
	free(wop);
	free(authmsg);
	free(p64);
	free(v64);
}

/*
 * A whole SCRAM exchange for mech as a client with password, gs2 header
 * and bare client-first; returns the final result, *cond on failure.
 */
static int
scram_run(int mech, const char *password, const char *gs2, const char *bare,
    struct testdb *db, const char **cond)
{
	struct sasl_session	*s;
	char			*first = NULL, *out = NULL, *final = NULL;
	char			*expect = NULL;
	int			 rv, hash;

	hash = mech == SASL_MECH_SCRAM_SHA1 ? SASL_SHA1 : SASL_SHA256;
	ck_assert_ptr_nonnull(s = sasl_new(mech, db_lookup, db));
	ck_assert_int_gt(asprintf(&first, "%s%s", gs2, bare), 0);
	rv = step_str(s, first, &out, cond);
	if (rv != SASL_CONTINUE)
		goto out;
	ck_assert_ptr_nonnull(out);
	scram_client(hash, password, gs2, bare, out, &final, &expect);
	free(out);
	rv = step_str(s, final, &out, cond);
	if (rv == SASL_SUCCESS)
		ck_assert_str_eq(out, expect);
out:
	free(first);
	free(out);
	free(final);
	free(expect);
	sasl_free(s);
	return (rv);
}

/* Fixture: random server nonces unless a test asks otherwise. */
static void
nonce_reset(void)
{
	sasl_test_nonce(NULL);
}

/* RFC 4648 section 10 vectors encode as written. */
START_TEST(test_b64_encode)
{
	static const char *vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const unsigned char bin[] = { 0xfb, 0xff, 0x00, 0xfe };
	char	*e;
	size_t	 i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		e = sasl_b64_encode((const unsigned char *)vec[i][0],
		    strlen(vec[i][0]));
		ck_assert_str_eq(e, vec[i][1]);
		free(e);
	}
	e = sasl_b64_encode(bin, sizeof(bin));
	ck_assert_str_eq(e, "+/8A/g==");
	free(e);
}
END_TEST

/* Good base64 decodes, "=" is empty, and every length round-trips. */
START_TEST(test_b64_decode_good)
{
	unsigned char	 bin[64], *buf = NULL;
	char		*e;
	size_t		 len, i, n;

	ck_assert_int_eq(sasl_b64_decode("Zm9vYmE=", &buf, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(buf, "fooba", 5);
	ck_assert_int_eq(buf[5], '\0');
	free(buf);
	ck_assert_int_eq(sasl_b64_decode("+/8A/g==", &buf, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(buf, "\xfb\xff\x00\xfe", 4);
	free(buf);
	ck_assert_int_eq(sasl_b64_decode("=", &buf, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(buf);
	free(buf);
	ck_assert_int_eq(sasl_b64_decode("", &buf, &len), 0);
	ck_assert_uint_eq(len, 0);
	free(buf);

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 37 + 11);
	for (n = 0; n <= sizeof(bin); n++) {
		e = sasl_b64_encode(bin, n);
		ck_assert_uint_eq(strlen(e), (n + 2) / 3 * 4);
		ck_assert_int_eq(sasl_b64_decode(e, &buf, &len), 0);
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(buf, bin, n);
		free(buf);
		free(e);
	}
}
END_TEST

/* Anything but strict base64 is refused and leaves nothing allocated. */
START_TEST(test_b64_decode_bad)
{
	static const char *bad[] = {
		"Zg", "Zg=", "Zm9", "Z===", "====", "==", "Zm9v=",
		"Zm=v", "=Zm9", "Zm9v====", "Zh==", "Zm9=", "Zm9vYmF=",
		"Zm9v\n", " Zm9v", "Zm9v ", "Zm 9v", "Zm9-", "Zm9_",
		"Zm9v\r\n", "Zm\tv", "Zm9v.", "Zg==Zg==", "Z\xc3\xa9v",
	};
	unsigned char	*buf = NULL;
	size_t		 len, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf = (unsigned char *)"x";
		len = 99;
		ck_assert_msg(sasl_b64_decode(bad[i], &buf, &len) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_ptr_null(buf);
		ck_assert_uint_eq(len, 0);
	}
}
END_TEST

/* Mechanism names map both ways, exactly. */
START_TEST(test_mech_names)
{
	ck_assert_int_eq(sasl_mech_from_name("SCRAM-SHA-256"),
	    SASL_MECH_SCRAM_SHA256);
	ck_assert_int_eq(sasl_mech_from_name("SCRAM-SHA-1"),
	    SASL_MECH_SCRAM_SHA1);
	ck_assert_int_eq(sasl_mech_from_name("PLAIN"), SASL_MECH_PLAIN);
	ck_assert_int_eq(sasl_mech_from_name("plain"), 0);
	ck_assert_int_eq(sasl_mech_from_name("SCRAM-SHA-256-PLUS"), 0);
	ck_assert_int_eq(sasl_mech_from_name("DIGEST-MD5"), 0);
	ck_assert_int_eq(sasl_mech_from_name(""), 0);
	ck_assert_str_eq(sasl_mech_name(SASL_MECH_SCRAM_SHA256),
	    "SCRAM-SHA-256");
	ck_assert_str_eq(sasl_mech_name(SASL_MECH_SCRAM_SHA1), "SCRAM-SHA-1");
	ck_assert_str_eq(sasl_mech_name(SASL_MECH_PLAIN), "PLAIN");
	ck_assert_ptr_null(sasl_mech_name(0));
	ck_assert_ptr_null(sasl_mech_name(42));
}
END_TEST

/* sasl_new refuses unknown mechanisms; sasl_free(NULL) is harmless. */
START_TEST(test_new_free)
{
	struct sasl_session	*s;

	ck_assert_ptr_null(sasl_new(0, db_lookup, NULL));
	ck_assert_ptr_null(sasl_new(99, db_lookup, NULL));
	sasl_free(NULL);
	ck_assert_ptr_nonnull(s = sasl_new(SASL_MECH_PLAIN, db_lookup, NULL));
	ck_assert_ptr_null(sasl_username(s));
	sasl_free(s);
}
END_TEST

/* Made creds have fresh salts, the right sizes, and refuse weak input. */
START_TEST(test_creds_make)
{
	struct sasl_creds	 a, b, c;

	ck_assert_int_eq(sasl_creds_make("pencil", SASL_SHA256,
	    SASL_ITERATIONS, &a), 0);
	ck_assert_int_eq(sasl_creds_make("pencil", SASL_SHA256,
	    SASL_ITERATIONS, &b), 0);
	ck_assert_int_eq(a.hash, SASL_SHA256);
	ck_assert_int_eq(a.iterations, SASL_ITERATIONS);
	ck_assert_uint_eq(a.keylen, 32);
	ck_assert_uint_eq(a.saltlen, SASL_SALT_LEN);
	ck_assert(memcmp(a.salt, b.salt, SASL_SALT_LEN) != 0);
	ck_assert(memcmp(a.stored_key, b.stored_key, 32) != 0);
	ck_assert(memcmp(a.stored_key, a.server_key, 32) != 0);

	/* The same salt gives the same keys. */
	ck_assert_int_eq(sasl_creds_derive("pencil", SASL_SHA256,
	    SASL_ITERATIONS, a.salt, a.saltlen, &c), 0);
	ck_assert_mem_eq(c.stored_key, a.stored_key, 32);
	ck_assert_mem_eq(c.server_key, a.server_key, 32);

	ck_assert_int_eq(sasl_creds_make("pencil", SASL_SHA1, 10000, &a), 0);
	ck_assert_int_eq(a.hash, SASL_SHA1);
	ck_assert_int_eq(a.iterations, 10000);
	ck_assert_uint_eq(a.keylen, 20);

	ck_assert_int_eq(sasl_creds_make("pencil", SASL_SHA256, 4095, &a), -1);
	ck_assert_int_eq(sasl_creds_make("pencil", SASL_SHA256, 0, &a), -1);
	ck_assert_int_eq(sasl_creds_make("pencil", 0, SASL_ITERATIONS, &a),
	    -1);
	ck_assert_int_eq(sasl_creds_make("pencil", 3, SASL_ITERATIONS, &a),
	    -1);
	ck_assert_int_eq(sasl_creds_make("", SASL_SHA256, SASL_ITERATIONS,
	    &a), -1);
	ck_assert_int_eq(sasl_creds_make(NULL, SASL_SHA256, SASL_ITERATIONS,
	    &a), -1);
	ck_assert_int_eq(sasl_creds_derive("pencil", SASL_SHA256,
	    SASL_ITERATIONS, b.salt, 0, &a), -1);
	ck_assert_int_eq(sasl_creds_derive("pencil", SASL_SHA256,
	    SASL_ITERATIONS, b.salt, SASL_SALT_LEN + 1, &a), -1);
}
END_TEST

/* RFC 5802 section 5, SCRAM-SHA-1, byte for byte. */
START_TEST(test_scram_sha1_rfc5802)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "user", "pencil", V1_SALT, HAVE_SHA1 | HAVE_SHA256);
	sasl_test_nonce(V1_SNONCE);
	ck_assert_ptr_nonnull(s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup,
	    &db));
	ck_assert_ptr_null(sasl_username(s));
	ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond), SASL_CONTINUE);
	ck_assert_str_eq(out, V1_SFIRST);
	ck_assert_int_eq(db.lasthash, SASL_SHA1);
	ck_assert_str_eq(sasl_username(s), "user");
	free(out);
	ck_assert_int_eq(step_str(s, V1_FINAL, &out, &cond), SASL_SUCCESS);
	ck_assert_str_eq(out, V1_SFINAL);
	ck_assert_str_eq(sasl_username(s), "user");
	free(out);
	sasl_free(s);
}
END_TEST

/* RFC 7677 section 3, SCRAM-SHA-256, byte for byte. */
START_TEST(test_scram_sha256_rfc7677)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "user", "pencil", V256_SALT, HAVE_SHA1 | HAVE_SHA256);
	sasl_test_nonce(V256_SNONCE);
	ck_assert_ptr_nonnull(s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup,
	    &db));
	ck_assert_int_eq(step_str(s, V256_FIRST, &out, &cond), SASL_CONTINUE);
	ck_assert_str_eq(out, V256_SFIRST);
	ck_assert_int_eq(db.lasthash, SASL_SHA256);
	free(out);
	ck_assert_int_eq(step_str(s, V256_FINAL, &out, &cond), SASL_SUCCESS);
	ck_assert_str_eq(out, V256_SFINAL);
	ck_assert_str_eq(sasl_username(s), "user");
	free(out);
	sasl_free(s);
}
END_TEST

/* The RFC 7677 proof against another password: not-authorized. */
START_TEST(test_scram_wrong_password)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "user", "pencil2", V256_SALT, HAVE_SHA256);
	sasl_test_nonce(V256_SNONCE);
	ck_assert_ptr_nonnull(s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup,
	    &db));
	ck_assert_int_eq(step_str(s, V256_FIRST, &out, &cond), SASL_CONTINUE);
	ck_assert_str_eq(out, V256_SFIRST);
	free(out);
	expect_fail(step_str(s, V256_FINAL, &out, &cond), &cond,
	    "not-authorized");
	ck_assert_ptr_null(out);
	sasl_free(s);

	/* The same through a live client, both hashes. */
	db_init(&db, "user", "right", NULL, HAVE_SHA1 | HAVE_SHA256);
	expect_fail(scram_run(SASL_MECH_SCRAM_SHA1, "wrong", "n,,",
	    "n=user,r=abcdef", &db, &cond), &cond, "not-authorized");
	expect_fail(scram_run(SASL_MECH_SCRAM_SHA256, "wrong", "n,,",
	    "n=user,r=abcdef", &db, &cond), &cond, "not-authorized");
}
END_TEST

/* Random nonces and made creds: a live client succeeds, both hashes. */
START_TEST(test_scram_roundtrip)
{
	struct sasl_session	*s1, *s2;
	struct testdb		 db;
	const char		*cond;
	char			*o1 = NULL, *o2 = NULL, *e, *nonce = NULL;
	unsigned char		*salt = NULL;
	size_t			 saltlen;

	db_init(&db, "juliet", "r0m30!", NULL, HAVE_SHA1 | HAVE_SHA256);
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA1, "r0m30!", "n,,",
	    "n=juliet,r=Qw3rty", &db, &cond), SASL_SUCCESS);
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA256, "r0m30!", "n,,",
	    "n=juliet,r=Qw3rty", &db, &cond), SASL_SUCCESS);
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA256, "r0m30!", "n,,",
	    "n=juliet,r=Qw3rty,x=ext,y=more", &db, &cond), SASL_SUCCESS);

	/* Two sessions: different server nonces of 24+ characters. */
	s1 = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	s2 = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s1, "n,,n=juliet,r=abc", &o1, &cond),
	    SASL_CONTINUE);
	ck_assert_int_eq(step_str(s2, "n,,n=juliet,r=abc", &o2, &cond),
	    SASL_CONTINUE);
	ck_assert_str_ne(o1, o2);
	ck_assert_int_eq(strncmp(o1, "r=abc", 5), 0);
	ck_assert_ptr_nonnull(e = strstr(o1, ",s="));
	ck_assert_int_ge(e - (o1 + 5), 24);
	ck_assert_int_eq(sfirst_parse(o1, &nonce, &salt, &saltlen),
	    SASL_ITERATIONS);
	ck_assert_uint_eq(saltlen, SASL_SALT_LEN);
	ck_assert_mem_eq(salt, db.creds[SASL_SHA256].salt, SASL_SALT_LEN);
	free(nonce);
	free(salt);
	free(o1);
	free(o2);
	sasl_free(s1);
	sasl_free(s2);
}
END_TEST

/*
 * An unknown user gets a normal server-first (stable per name, 16-byte
 * salt, 4096 iterations) and fails only at the final step.
 */
START_TEST(test_scram_unknown_user)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL, *again = NULL, *other = NULL;
	char			*nonce = NULL, *final = NULL, *expect = NULL;
	unsigned char		*salt = NULL;
	size_t			 saltlen;

	db_init(&db, "user", "pencil", NULL, HAVE_SHA1 | HAVE_SHA256);
	sasl_test_nonce("SNONCE");
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, "n,,n=romeo,r=CN", &out, &cond),
	    SASL_CONTINUE);
	ck_assert_str_eq(sasl_username(s), "romeo");
	ck_assert_int_eq(sfirst_parse(out, &nonce, &salt, &saltlen),
	    SASL_ITERATIONS);
	ck_assert_str_eq(nonce, "CNSNONCE");
	ck_assert_uint_eq(saltlen, SASL_SALT_LEN);
	free(nonce);
	free(salt);

	/* A client that computes a proof for that salt still fails. */
	scram_client(SASL_SHA256, "pencil", "n,,", "n=romeo,r=CN", out,
	    &final, &expect);
	expect_fail(step_str(s, final, &again, &cond), &cond,
	    "not-authorized");
	sasl_free(s);
	free(final);
	free(expect);

	/* Asked again, the same salt; another name, another salt. */
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, "n,,n=romeo,r=CN", &again, &cond),
	    SASL_CONTINUE);
	ck_assert_str_eq(again, out);
	sasl_free(s);
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, "n,,n=romeo2,r=CN", &other, &cond),
	    SASL_CONTINUE);
	ck_assert_str_ne(other, out);
	sasl_free(s);
	free(out);
	free(again);
	free(other);

	/* The SHA-1 fake differs from the SHA-256 one. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step_str(s, "n,,n=romeo,r=CN", &other, &cond),
	    SASL_CONTINUE);
	ck_assert_int_eq(sfirst_parse(other, &nonce, &salt, &saltlen),
	    SASL_ITERATIONS);
	ck_assert_uint_eq(saltlen, SASL_SALT_LEN);
	free(nonce);
	free(salt);
	free(other);
	sasl_free(s);

	expect_fail(scram_run(SASL_MECH_SCRAM_SHA1, "pencil", "n,,",
	    "n=nobody,r=x", &db, &cond), &cond, "not-authorized");
}
END_TEST

/*
 * Creds only for the other hash, or unusable creds from the callback,
 * look like an unknown user.
 */
START_TEST(test_scram_lookup_hash)
{
	struct testdb	 db;
	const char	*cond;

	db_init(&db, "user", "pencil", NULL, HAVE_SHA256);
	expect_fail(scram_run(SASL_MECH_SCRAM_SHA1, "pencil", "n,,",
	    "n=user,r=x", &db, &cond), &cond, "not-authorized");
	ck_assert_int_eq(db.lasthash, SASL_SHA1);
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA256, "pencil", "n,,",
	    "n=user,r=x", &db, &cond), SASL_SUCCESS);

	db.creds[SASL_SHA256].keylen = 20;
	expect_fail(scram_run(SASL_MECH_SCRAM_SHA256, "pencil", "n,,",
	    "n=user,r=x", &db, &cond), &cond, "not-authorized");
	db.creds[SASL_SHA256].keylen = 32;
	db.creds[SASL_SHA256].hash = SASL_SHA1;
	expect_fail(scram_run(SASL_MECH_SCRAM_SHA256, "pencil", "n,,",
	    "n=user,r=x", &db, &cond), &cond, "not-authorized");
	db.creds[SASL_SHA256].hash = SASL_SHA256;

	/* saltlen 0 stands for a full salt. */
	db.creds[SASL_SHA256].saltlen = 0;
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA256, "pencil", "n,,",
	    "n=user,r=x", &db, &cond), SASL_SUCCESS);
}
END_TEST

/* "p=" needs a -PLUS mechanism we do not offer; "y" binds to its header. */
START_TEST(test_scram_channel_binding)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "user", "pencil", V1_SALT, HAVE_SHA1 | HAVE_SHA256);
	sasl_test_nonce(V1_SNONCE);
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	expect_fail(step_str(s, "p=tls-unique,,n=user,r=" V1_CNONCE, &out,
	    &cond), &cond, "malformed-request");
	sasl_free(s);
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	expect_fail(step_str(s, "p=tls-exporter,,n=user,r=abc", &out,
	    &cond), &cond, "malformed-request");
	sasl_free(s);

	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA1, "pencil", "y,,",
	    "n=user,r=abc", &db, &cond), SASL_SUCCESS);
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA256, "pencil",
	    "y,a=user,", "n=user,r=abc", &db, &cond), SASL_SUCCESS);

	/* "y,," sent, "n,," (biws) claimed at the end. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step_str(s, "y,,n=user,r=" V1_CNONCE, &out, &cond),
	    SASL_CONTINUE);
	ck_assert_str_eq(out, V1_SFIRST);
	free(out);
	expect_fail(step_str(s, V1_FINAL, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);
}
END_TEST

/* c= must be the base64 of the gs2 header sent. */
START_TEST(test_scram_wrong_cbind)
{
	static const char *bad[] = {
		"c=eSws," V1_R V1_P,
		"c=biwsbj11c2Vy," V1_R V1_P,
		"c=biw," V1_R V1_P,
		"c=," V1_R V1_P,
		V1_R V1_P,
		"x=biws," V1_R V1_P,
	};
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;
	size_t			 i;

	db_init(&db, "user", "pencil", V1_SALT, HAVE_SHA1);
	sasl_test_nonce(V1_SNONCE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
		ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond),
		    SASL_CONTINUE);
		free(out);
		expect_fail(step_str(s, bad[i], &out, &cond), &cond,
		    "malformed-request");
		sasl_free(s);
	}
}
END_TEST

/* r= in the final message must be the combined nonce, exactly. */
START_TEST(test_scram_nonce_mismatch)
{
	static const char *bad[] = {
		"c=biws,r=" V1_CNONCE V1_P,
		"c=biws," V1_R "x" V1_P,
		"c=biws,r=" V1_CNONCE "3rfcNHYJY1ZVvWVs7J" V1_P,
		"c=biws,r=,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		"c=biws,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		"c=biws,x=" V1_CNONCE V1_SNONCE V1_P,
	};
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;
	size_t			 i;

	db_init(&db, "user", "pencil", V1_SALT, HAVE_SHA1);
	sasl_test_nonce(V1_SNONCE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
		ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond),
		    SASL_CONTINUE);
		free(out);
		expect_fail(step_str(s, bad[i], &out, &cond), &cond,
		    "malformed-request");
		sasl_free(s);
	}
}
END_TEST

/* The proof: last, strict base64, exactly one hash long. */
START_TEST(test_scram_bad_proof)
{
	static const char *bad[] = {
		"c=biws," V1_R ",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts",
		"c=biws," V1_R ",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Q==",
		"c=biws," V1_R ",p=v0X8v3Bz2T0CJGbJQyF0X+HI4TsA",
		"c=biws," V1_R ",p=",
		"c=biws," V1_R,
		"c=biws" V1_P "," V1_R,
		"c=biws," V1_R V1_P ",",
		"c=biws," V1_R ",m=x" V1_P,
		"c=biws," V1_R "," V1_P,
	};
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;
	size_t			 i;

	db_init(&db, "user", "pencil", V1_SALT, HAVE_SHA1);
	sasl_test_nonce(V1_SNONCE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
		ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond),
		    SASL_CONTINUE);
		free(out);
		expect_fail(step_str(s, bad[i], &out, &cond), &cond,
		    "malformed-request");
		sasl_free(s);
	}

	/* A well-formed proof with one bit flipped. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond), SASL_CONTINUE);
	free(out);
	expect_fail(step_str(s, "c=biws," V1_R
	    ",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Tk=", &out, &cond), &cond,
	    "not-authorized");
	sasl_free(s);

	/* An extension before the proof is ignored. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond), SASL_CONTINUE);
	free(out);
	expect_fail(step_str(s, "c=biws," V1_R ",x=y" V1_P, &out, &cond), &cond,
	    "not-authorized");
	sasl_free(s);
}
END_TEST

/* authzid: empty, the authcid, or authcid@...; anything else refused. */
START_TEST(test_scram_authzid)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "us,er", "pencil", NULL, HAVE_SHA256);
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA256, "pencil",
	    "n,a=us=2Cer,", "n=us=2Cer,r=abc", &db, &cond), SASL_SUCCESS);
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA256, "pencil",
	    "n,a=us=2Cer@example.com/res,", "n=us=2Cer,r=abc", &db, &cond),
	    SASL_SUCCESS);
	expect_fail(scram_run(SASL_MECH_SCRAM_SHA256, "pencil",
	    "n,a=admin,", "n=us=2Cer,r=abc", &db, &cond), &cond,
	    "invalid-authzid");
	expect_fail(scram_run(SASL_MECH_SCRAM_SHA256, "pencil",
	    "n,a=us=2Ce,", "n=us=2Cer,r=abc", &db, &cond), &cond,
	    "invalid-authzid");
	expect_fail(scram_run(SASL_MECH_SCRAM_SHA256, "pencil",
	    "n,a=us=2Cerx@example.com,", "n=us=2Cer,r=abc", &db, &cond),
	    &cond, "invalid-authzid");

	/* Malformed authzids. */
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	expect_fail(step_str(s, "n,a=,n=us=2Cer,r=abc", &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	expect_fail(step_str(s, "n,a=us=2cer,n=us=2Cer,r=abc", &out, &cond),
	    &cond, "malformed-request");
	sasl_free(s);
}
END_TEST

/* Malformed client-first messages, each in a fresh session. */
START_TEST(test_scram_malformed_first)
{
	static const char *bad[] = {
		"n,,n=user", "n,,r=abc,n=user", "n,,n=user,r=",
		"n,,m=ext,n=user,r=abc", "n,,n=user,r=abc,m=ext",
		"n,,n=us=41er,r=abc", "n,,n=us=er,r=abc", "n,,n=user=,r=abc",
		"n,,n=user=2,r=abc", "n,,n=,r=abc", "n,,n=user,r=a b",
		"n,,n=user,r=abc,", "n,,n=user,r=abc,5=x", "n,,n=user,r=abc,x",
		"n,,n=user,r=abc,x=", "n,n=user,r=abc", "n,x=y,n=user,r=abc",
		"x,,n=user,r=abc", "N,,n=user,r=abc", "n", "n,", ",,n=user,r=a",
		"yy,,n=user,r=abc", "n,,", "n,,user,r=abc", "n,,n=user,,r=abc",
		"n,,n=user,r=abc\x7f", "n,,n=user,r=ab\xc3\xa9",
		"c=biws,r=abc,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	};
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;
	size_t			 i;

	db_init(&db, "user", "pencil", NULL, HAVE_SHA1 | HAVE_SHA256);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
		ck_assert_msg(step_str(s, bad[i], &out, &cond) ==
		    SASL_FAILURE, "accepted \"%s\"", bad[i]);
		ck_assert_str_eq(cond, "malformed-request");
		ck_assert_ptr_null(out);
		sasl_free(s);
	}
	ck_assert_int_eq(db.calls, 0);

	/* A NUL inside. */
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	expect_fail(step(s, "n,,n=us\0er,r=abc", 16, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);
}
END_TEST

/* Escapes in the username decode; sasl_username shows the result. */
START_TEST(test_scram_username_escape)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "a,b=c", "pencil", NULL, HAVE_SHA256);
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, "n,,n=a=2Cb=3Dc,r=abc", &out, &cond),
	    SASL_CONTINUE);
	ck_assert_str_eq(sasl_username(s), "a,b=c");
	ck_assert_int_eq(db.calls, 1);
	free(out);
	sasl_free(s);
	ck_assert_int_eq(scram_run(SASL_MECH_SCRAM_SHA256, "pencil", "n,,",
	    "n=a=2Cb=3Dc,r=abc", &db, &cond), SASL_SUCCESS);
}
END_TEST

/* Message and username size limits. */
START_TEST(test_scram_bounds)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL, *msg = NULL;
	size_t			 i;

	db_init(&db, "user", "pencil", NULL, HAVE_SHA256);
	msg = malloc(5000);
	ck_assert_ptr_nonnull(msg);

	/* A 1023-byte username is fine, 1024 is not. */
	memcpy(msg, "n,,n=", 5);
	memset(msg + 5, 'u', 1023);
	strcpy(msg + 5 + 1023, ",r=abc");
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, msg, &out, &cond), SASL_CONTINUE);
	ck_assert_uint_eq(strlen(sasl_username(s)), 1023);
	free(out);
	sasl_free(s);
	memset(msg + 5, 'u', 1024);
	strcpy(msg + 5 + 1024, ",r=abc");
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	expect_fail(step_str(s, msg, &out, &cond), &cond, "malformed-request");
	sasl_free(s);
	/* 1023 bytes once unescaped is fine too. */
	memcpy(msg + 5, "=2C", 3);
	memset(msg + 8, 'u', 1022);
	strcpy(msg + 8 + 1022, ",r=abc");
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, msg, &out, &cond), SASL_CONTINUE);
	free(out);
	sasl_free(s);

	/* 4096 bytes in all is the limit (a long nonce here). */
	strcpy(msg, "n,,n=user,r=");
	for (i = strlen(msg); i < 4096; i++)
		msg[i] = 'N';
	msg[4096] = '\0';
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, msg, &out, &cond), SASL_CONTINUE);
	free(out);
	sasl_free(s);
	msg[4096] = 'N';
	msg[4097] = '\0';
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	expect_fail(step_str(s, msg, &out, &cond), &cond, "malformed-request");
	sasl_free(s);

	/* A final message over the limit. */
	sasl_test_nonce("S");
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, "n,,n=user,r=abc", &out, &cond),
	    SASL_CONTINUE);
	free(out);
	strcpy(msg, "c=biws,r=abcS,x=");
	for (i = strlen(msg); i < 4097; i++)
		msg[i] = 'x';
	msg[4097] = '\0';
	expect_fail(step_str(s, msg, &out, &cond), &cond, "malformed-request");
	sasl_free(s);
	free(msg);
}
END_TEST

/* Steps out of order, and anything after success or failure. */
START_TEST(test_scram_order)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "user", "pencil", V1_SALT, HAVE_SHA1);
	sasl_test_nonce(V1_SNONCE);

	/* The final message first. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	expect_fail(step_str(s, V1_FINAL, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);

	/* The first message twice. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond), SASL_CONTINUE);
	free(out);
	expect_fail(step_str(s, V1_FIRST, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);

	/* Empty initial response: an empty challenge, then as usual. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step(s, NULL, 0, &out, &cond), SASL_CONTINUE);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond), SASL_CONTINUE);
	ck_assert_str_eq(out, V1_SFIRST);
	free(out);
	ck_assert_int_eq(step_str(s, V1_FINAL, &out, &cond), SASL_SUCCESS);
	ck_assert_str_eq(out, V1_SFINAL);
	free(out);

	/* Anything after success. */
	expect_fail(step_str(s, V1_FINAL, &out, &cond), &cond,
	    "malformed-request");
	expect_fail(step(s, "", 0, &out, &cond), &cond, "malformed-request");
	sasl_free(s);

	/* Empty twice, or empty in place of the final message. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step(s, "", 0, &out, &cond), SASL_CONTINUE);
	expect_fail(step(s, "", 0, &out, &cond), &cond, "malformed-request");
	sasl_free(s);
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond), SASL_CONTINUE);
	free(out);
	expect_fail(step(s, "", 0, &out, &cond), &cond, "malformed-request");
	sasl_free(s);

	/* Nothing more after a failure, not even the right answer. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond), SASL_CONTINUE);
	free(out);
	expect_fail(step_str(s, "c=biws,r=x,p=AAAA", &out, &cond), &cond,
	    "malformed-request");
	expect_fail(step_str(s, V1_FINAL, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);

	/* Freed half-way. */
	s = sasl_new(SASL_MECH_SCRAM_SHA1, db_lookup, &db);
	ck_assert_int_eq(step_str(s, V1_FIRST, &out, &cond), SASL_CONTINUE);
	free(out);
	sasl_free(s);
}
END_TEST

/* PLAIN with the right password, over SHA-256 or only SHA-1 creds. */
START_TEST(test_plain_good)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "user", "pencil", NULL, HAVE_SHA1 | HAVE_SHA256);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	ck_assert_int_eq(step(s, "\0user\0pencil", 12, &out, &cond),
	    SASL_SUCCESS);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(sasl_username(s), "user");
	ck_assert_int_eq(db.calls, 1);
	ck_assert_int_eq(db.lasthash, SASL_SHA256);
	/* Data after success. */
	expect_fail(step(s, "\0user\0pencil", 12, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);

	db_init(&db, "user", "pencil", V1_SALT, HAVE_SHA1);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	ck_assert_int_eq(step(s, "\0user\0pencil", 12, &out, &cond),
	    SASL_SUCCESS);
	ck_assert_int_eq(db.calls, 2);
	ck_assert_int_eq(db.lasthash, SASL_SHA1);
	sasl_free(s);

	/* Empty initial response, then the credentials. */
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	ck_assert_int_eq(step(s, NULL, 0, &out, &cond), SASL_CONTINUE);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(step(s, "\0user\0pencil", 12, &out, &cond),
	    SASL_SUCCESS);
	sasl_free(s);
}
END_TEST

/* PLAIN: wrong passwords and unknown users are not-authorized. */
START_TEST(test_plain_bad)
{
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;

	db_init(&db, "user", "pencil", NULL, HAVE_SHA1 | HAVE_SHA256);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, "\0user\0pencil2", 13, &out, &cond), &cond,
	    "not-authorized");
	ck_assert_ptr_null(out);
	expect_fail(step(s, "\0user\0pencil", 12, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);

	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, "\0user\0Pencil", 12, &out, &cond), &cond,
	    "not-authorized");
	sasl_free(s);

	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, "\0romeo\0pencil", 13, &out, &cond), &cond,
	    "not-authorized");
	ck_assert_str_eq(sasl_username(s), "romeo");
	sasl_free(s);

	/* No lookup callback at all: nobody exists. */
	s = sasl_new(SASL_MECH_PLAIN, NULL, NULL);
	expect_fail(step(s, "\0user\0pencil", 12, &out, &cond), &cond,
	    "not-authorized");
	sasl_free(s);
}
END_TEST

/* PLAIN authzid rules. */
START_TEST(test_plain_authzid)
{
	static const struct {
		const char	*msg;
		size_t		 len;
		int		 rv;
	} vec[] = {
		{ "user\0user\0pencil", 16, SASL_SUCCESS },
		{ "user@example.com\0user\0pencil", 28, SASL_SUCCESS },
		{ "user@example.com/r\0user\0pencil", 30, SASL_SUCCESS },
		{ "admin\0user\0pencil", 17, SASL_FAILURE },
		{ "use\0user\0pencil", 15, SASL_FAILURE },
		{ "users\0user\0pencil", 17, SASL_FAILURE },
		{ "userx@example.com\0user\0pencil", 29, SASL_FAILURE },
		{ "@example.com\0user\0pencil", 24, SASL_FAILURE },
	};
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;
	size_t			 i;

	db_init(&db, "user", "pencil", NULL, HAVE_SHA256);
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
		ck_assert_int_eq(step(s, vec[i].msg, vec[i].len, &out, &cond),
		    vec[i].rv);
		if (vec[i].rv == SASL_FAILURE)
			ck_assert_str_eq(cond, "invalid-authzid");
		sasl_free(s);
	}
}
END_TEST

/* PLAIN messages without the right NULs, or with empty or long fields. */
START_TEST(test_plain_malformed)
{
	static const struct {
		const char	*msg;
		size_t		 len;
	} vec[] = {
		{ "userpencil", 10 },
		{ "user\0pencil", 11 },
		{ "\0userpencil", 11 },
		{ "\0user\0pen\0cil", 13 },
		{ "\0user\0pencil\0", 13 },
		{ "\0\0pencil", 8 },
		{ "\0user\0", 6 },
		{ "\0\0", 2 },
		{ "\0", 1 },
		{ "x", 1 },
	};
	struct sasl_session	*s;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL, *msg = NULL;
	size_t			 i;

	db_init(&db, "user", "pencil", NULL, HAVE_SHA256);
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
		expect_fail(step(s, vec[i].msg, vec[i].len, &out, &cond),
		    &cond, "malformed-request");
		sasl_free(s);
	}
	ck_assert_int_eq(db.calls, 0);

	/* Usernames: 1023 bytes is fine (and unknown), 1024 is not. */
	msg = calloc(1, 5000);
	ck_assert_ptr_nonnull(msg);
	memset(msg + 1, 'u', 1023);
	memcpy(msg + 1 + 1023 + 1, "pencil", 6);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, msg, 1 + 1023 + 1 + 6, &out, &cond), &cond,
	    "not-authorized");
	sasl_free(s);
	memset(msg, 0, 5000);
	memset(msg + 1, 'u', 1024);
	memcpy(msg + 1 + 1024 + 1, "pencil", 6);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, msg, 1 + 1024 + 1 + 6, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);
	memset(msg, 0, 5000);
	memset(msg, 'u', 1024);
	memcpy(msg + 1024 + 1, "user", 4);
	memcpy(msg + 1024 + 1 + 4 + 1, "pencil", 6);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, msg, 1024 + 1 + 4 + 1 + 6, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);

	/* Over 4096 bytes in all (a long password). */
	memset(msg, 0, 5000);
	memcpy(msg + 1, "user", 4);
	memset(msg + 6, 'p', 4091);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, msg, 6 + 4091, &out, &cond), &cond,
	    "malformed-request");
	sasl_free(s);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, msg, 6 + 4090, &out, &cond), &cond,
	    "not-authorized");
	sasl_free(s);
	free(msg);

	/* Empty twice. */
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	ck_assert_int_eq(step(s, NULL, 0, &out, &cond), SASL_CONTINUE);
	expect_fail(step(s, NULL, 0, &out, &cond), &cond, "malformed-request");
	sasl_free(s);
}
END_TEST

/*
 * PLAIN leaves its key derivation to the caller: nothing more is taken
 * while it is pending, and the work outlives the session safely.
 */
START_TEST(test_plain_pending)
{
	struct sasl_session	*s;
	struct sasl_work	*w;
	struct testdb		 db;
	unsigned char		*out = NULL;
	size_t			 outlen = 0;
	const char		*cond = "unset";

	db_init(&db, "user", "pencil", NULL, HAVE_SHA256);
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	ck_assert_int_eq(sasl_step(s, (const unsigned char *)"\0user\0pencil",
	    12, &out, &outlen, &cond), SASL_PENDING);
	ck_assert_ptr_null(cond);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(w = sasl_work_take(s));
	sasl_work_run(w);
	ck_assert_int_eq(sasl_work_done(s, w, &cond), SASL_SUCCESS);
	ck_assert_str_eq(sasl_username(s), "user");
	sasl_free(s);

	/* A second message while the work is pending is refused. */
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	ck_assert_int_eq(sasl_step(s, (const unsigned char *)"\0user\0pencil",
	    12, &out, &outlen, &cond), SASL_PENDING);
	ck_assert_int_eq(sasl_step(s, (const unsigned char *)"\0user\0pencil",
	    12, &out, &outlen, &cond), SASL_FAILURE);
	ck_assert_str_eq(cond, "malformed-request");
	w = sasl_work_take(s);
	sasl_work_run(w);
	ck_assert_int_eq(sasl_work_done(s, w, &cond), SASL_FAILURE);
	sasl_free(s);

	/* The session goes first (the client left); the work goes on. */
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	ck_assert_int_eq(sasl_step(s, (const unsigned char *)"\0user\0pencil",
	    12, &out, &outlen, &cond), SASL_PENDING);
	w = sasl_work_take(s);
	sasl_free(s);
	sasl_work_run(w);
	sasl_work_free(w);

	/* Never taken: sasl_free frees it. */
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	ck_assert_int_eq(sasl_step(s, (const unsigned char *)"\0user\0pencil",
	    12, &out, &outlen, &cond), SASL_PENDING);
	sasl_free(s);
	sasl_work_free(NULL);
}
END_TEST

/*
 * Iteration counts out of SASL_ITER_MIN..SASL_ITER_MAX in stored creds
 * are not used: a huge one would cost a derivation of minutes per
 * attempt, a tiny one makes guessing cheap. Such an account is treated
 * as missing; nothing makes creds with such counts either.
 */
START_TEST(test_iterations_bounded)
{
	struct sasl_session	*s;
	struct sasl_creds	 c;
	struct testdb		 db;
	const char		*cond;
	char			*out = NULL;
	int			 hash;

	ck_assert_int_eq(sasl_creds_make("pencil", SASL_SHA256,
	    SASL_ITER_MAX + 1, &c), -1);
	ck_assert_int_eq(sasl_creds_make("pencil", SASL_SHA256,
	    SASL_ITER_MIN - 1, &c), -1);

	db_init(&db, "user", "pencil", NULL, HAVE_SHA1 | HAVE_SHA256);
	for (hash = SASL_SHA1; hash <= SASL_SHA256; hash++)
		db.creds[hash].iterations = 2000000000;
	s = sasl_new(SASL_MECH_PLAIN, db_lookup, &db);
	expect_fail(step(s, "\0user\0pencil", 12, &out, &cond), &cond,
	    "not-authorized");
	sasl_free(s);

	/* SCRAM: the client is given the fake creds' count, not ours. */
	for (hash = SASL_SHA1; hash <= SASL_SHA256; hash++)
		db.creds[hash].iterations = 1;
	s = sasl_new(SASL_MECH_SCRAM_SHA256, db_lookup, &db);
	ck_assert_int_eq(step_str(s, "n,,n=user,r=abc", &out, &cond),
	    SASL_CONTINUE);
	ck_assert_ptr_nonnull(strstr(out, ",i=4096"));
	free(out);
	sasl_free(s);
}
END_TEST

/* The suite. */
static Suite *
sasl_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("sasl");

	tc = tcase_create("base64");
	tcase_add_test(tc, test_b64_encode);
	tcase_add_test(tc, test_b64_decode_good);
	tcase_add_test(tc, test_b64_decode_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("basics");
	tcase_add_test(tc, test_mech_names);
	tcase_add_test(tc, test_new_free);
	tcase_add_test(tc, test_creds_make);
	suite_add_tcase(s, tc);

	tc = tcase_create("scram");
	tcase_add_checked_fixture(tc, nonce_reset, nonce_reset);
	tcase_add_test(tc, test_scram_sha1_rfc5802);
	tcase_add_test(tc, test_scram_sha256_rfc7677);
	tcase_add_test(tc, test_scram_wrong_password);
	tcase_add_test(tc, test_scram_roundtrip);
	tcase_add_test(tc, test_scram_unknown_user);
	tcase_add_test(tc, test_scram_lookup_hash);
	tcase_add_test(tc, test_scram_channel_binding);
	tcase_add_test(tc, test_scram_wrong_cbind);
	tcase_add_test(tc, test_scram_nonce_mismatch);
	tcase_add_test(tc, test_scram_bad_proof);
	tcase_add_test(tc, test_scram_authzid);
	tcase_add_test(tc, test_scram_malformed_first);
	tcase_add_test(tc, test_scram_username_escape);
	tcase_add_test(tc, test_scram_bounds);
	tcase_add_test(tc, test_scram_order);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("plain");
	tcase_add_test(tc, test_plain_good);
	tcase_add_test(tc, test_plain_bad);
	tcase_add_test(tc, test_plain_authzid);
	tcase_add_test(tc, test_plain_malformed);
	tcase_add_test(tc, test_plain_pending);
	tcase_add_test(tc, test_iterations_bounded);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(sasl_suite()));
}
