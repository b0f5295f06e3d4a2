/*
 * Fuzz target: SASL PLAIN and SCRAM-SHA-1/-256 server side and the strict
 * base64 codec (daemon/xmpp/sasl.c), as a client's <auth> and <response>
 * payloads reach them.
 *
 * Input: byte 0 picks the mechanism (0 PLAIN, 1 SCRAM-SHA-1,
 * 2 SCRAM-SHA-256) or 3 for base64 alone; byte 1 bit 0 says the messages
 * are base64 text, as on the wire, else raw bytes. The rest is the
 * client's messages, one a line ('\n' separates them; an empty line is
 * an empty response). There is one account, alice, password alicepw1,
 * and the server nonce is fixed, so the corpus holds whole exchanges
 * that succeed.
 *
 * Invariants: each step answers one of the three results, a failure with
 * a condition; only alice can succeed; what decodes as base64 encodes
 * back to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xmpp/sasl.h"

#define FS_USER		"alice"
#define FS_PASS		"alicepw1"
#define FS_SALT		"fuzz-salt-16byte"
#define FS_NONCE	"fuzzservernonce"
#define FS_MAX_STEPS	8

static struct sasl_creds fs_creds[3];	/* by SASL_SHA1, SASL_SHA256 */

static void	 fs_init(void);
static int	 fs_lookup(void *, const char *, int, struct sasl_creds *);
static void	 fs_b64(const uint8_t *, size_t);
static void	 fs_exchange(int, int, const uint8_t *, size_t);

/* alice's stored keys, made once. */
static void
fs_init(void)
{
	static int	 done;

	if (done)
		return;
	if (sasl_creds_derive(FS_PASS, SASL_SHA1, SASL_ITERATIONS,
	    (const unsigned char *)FS_SALT, SASL_SALT_LEN,
	    &fs_creds[SASL_SHA1]) == -1 ||
	    sasl_creds_derive(FS_PASS, SASL_SHA256, SASL_ITERATIONS,
	    (const unsigned char *)FS_SALT, SASL_SALT_LEN,
	    &fs_creds[SASL_SHA256]) == -1)
		fuzz_fail(__FILE__, __LINE__, "sasl_creds_derive");
	sasl_test_nonce(FS_NONCE);
	done = 1;
}

/* The account store: alice alone. */
static int
fs_lookup(void *arg, const char *user, int hash, struct sasl_creds *c)
{
	(void)arg;
	FUZZ_ASSERT(user != NULL);
	if (strcmp(user, FS_USER) != 0 ||
	    (hash != SASL_SHA1 && hash != SASL_SHA256))
		return (-1);
	*c = fs_creds[hash];
	return (0);
}

/* Strict base64: whatever decodes encodes back to the same text. */
static void
fs_b64(const uint8_t *data, size_t size)
{
	unsigned char	*buf;
	char		*str, *again;
	size_t		 len;

	str = malloc(size + 1);
	FUZZ_ASSERT(str != NULL);
	memcpy(str, data, size);
	str[size] = '\0';
	if (sasl_b64_decode(str, &buf, &len) == 0) {
		FUZZ_ASSERT(buf != NULL && buf[len] == '\0');
		again = sasl_b64_encode(buf, len);
		FUZZ_ASSERT(strcmp(again, str) == 0 ||
		    (strcmp(str, "=") == 0 && *again == '\0'));
		free(again);
		free(buf);
	} else
		FUZZ_ASSERT(buf == NULL);
	/* And the other way round, on the raw bytes. */
	again = sasl_b64_encode(data, size);
	FUZZ_ASSERT(sasl_b64_decode(again, &buf, &len) == 0);
	FUZZ_ASSERT(len == size && memcmp(buf, data, size) == 0);
	free(buf);
	free(again);
	free(str);
}

/* One exchange of mech over the messages in data. */
static void
fs_exchange(int mech, int b64, const uint8_t *data, size_t size)
{
	struct sasl_session	*s;
#ifdef SASL_PENDING
	struct sasl_work	*w;
#endif
	const uint8_t		*msg, *nl;
	unsigned char		*out, *dec;
	const char		*cond;
	char			*line;
	size_t			 len, outlen, declen;
	int			 rc, steps = 0;

	s = sasl_new(mech, fs_lookup, NULL);
	FUZZ_ASSERT(s != NULL);
	msg = data;
	for (;;) {
		nl = memchr(msg, '\n', size - (msg - data));
		len = nl != NULL ? (size_t)(nl - msg) : size - (msg - data);
		dec = NULL;
		if (b64) {
			line = strndup((const char *)msg, len);
			FUZZ_ASSERT(line != NULL);
			rc = sasl_b64_decode(line, &dec, &declen);
			free(line);
			if (rc == -1)
				break;		/* the daemon says incorrect-encoding */
			rc = sasl_step(s, dec, declen, &out, &outlen, &cond);
		} else
			rc = sasl_step(s, msg, len, &out, &outlen, &cond);
		free(dec);
#ifdef SASL_PENDING
		/* PLAIN's key derivation, which mmpd runs off its loop. */
		if (rc == SASL_PENDING) {
			FUZZ_ASSERT(out == NULL && outlen == 0);
			w = sasl_work_take(s);
			FUZZ_ASSERT(w != NULL);
			sasl_work_run(w);
			rc = sasl_work_done(s, w, &cond);
		}
#endif
		FUZZ_ASSERT(rc == SASL_CONTINUE || rc == SASL_SUCCESS ||
		    rc == SASL_FAILURE);
		FUZZ_ASSERT(out != NULL || outlen == 0);
		if (rc == SASL_FAILURE)
			FUZZ_ASSERT(cond != NULL && out == NULL);
		if (rc == SASL_SUCCESS)
			FUZZ_ASSERT(sasl_username(s) != NULL &&
			    strcmp(sasl_username(s), FS_USER) == 0);
		free(out);
		if (rc != SASL_CONTINUE || nl == NULL || ++steps == FS_MAX_STEPS)
			break;
		msg = nl + 1;
	}
	sasl_free(s);
}

/* One input: see the comment at the top. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int	 mechs[] = { SASL_MECH_PLAIN,
	    SASL_MECH_SCRAM_SHA1, SASL_MECH_SCRAM_SHA256 };

	if (size < 2)
		return (0);
	fs_init();
	if (data[0] % 4 == 3)
		fs_b64(data + 2, size - 2);
	else
		fs_exchange(mechs[data[0] % 4], data[1] & 1, data + 2,
		    size - 2);
	return (0);
}
