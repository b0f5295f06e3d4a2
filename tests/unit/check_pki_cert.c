/*
 * Unit tests for pki/pki_cert.c: describing, inspecting, verifying,
 * unlocking, unpacking and bundling files made by the openssl tool in a
 * temporary directory.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"
#include "unit.h"

/* Lines collected from pki_inspect. */
struct lines {
	char	*text;
	int	 n;
};

static char	 dir[PATH_MAX];
static int	 have_legacy;

static const char *fx(const char *);
static int	 run(const char *, ...) __attribute__((__format__(printf, 1,
		    2)));
static int	 exists(const char *);
static mode_t	 file_mode(const char *);
static int	 ndir(void);
static void	 collect(void *, const char *);
static void	 aligned(const char *);
static void	 cause_is(char *, const char *);
static void	 describe_is(const char *, const char *);
static char	*inspect_ok(const char *);
static int	 make_fixtures(void);
static Suite	*pki_cert_suite(void);

/*
 * The fixtures: root CA (RSA) -> intermediate (EC) -> leaf with SANs and
 * serverAuth, clientAuth; an expired leaf; an unrelated CA; a CA with the
 * intermediate's name but another key; an encrypted key in PKCS#8 and in
 * the traditional format; PKCS#12 archives; DER; broken files.
 */
static const char fixtures[] =
"set -e\n"
"cat >cnf <<'EOF'\n"
"[req]\n"
"distinguished_name = dn\n"
"[dn]\n"
"[v3ca]\n"
"basicConstraints = critical,CA:TRUE\n"
"keyUsage = critical,keyCertSign,cRLSign\n"
"subjectKeyIdentifier = hash\n"
"authorityKeyIdentifier = keyid:always\n"
"[v3fake]\n"
"basicConstraints = critical,CA:TRUE\n"
"keyUsage = critical,keyCertSign,cRLSign\n"
"subjectKeyIdentifier = none\n"
"authorityKeyIdentifier = none\n"
"[leaf]\n"
"basicConstraints = CA:FALSE\n"
"keyUsage = critical,digitalSignature,keyEncipherment\n"
"extendedKeyUsage = serverAuth,clientAuth\n"
"subjectAltName = DNS:xmpp.example.com,IP:192.0.2.10\n"
"subjectKeyIdentifier = hash\n"
"authorityKeyIdentifier = keyid:always\n"
"EOF\n"
"EC='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
"openssl req -x509 -new -newkey rsa:2048 -nodes -keyout root.key "
"-out root.crt -subj '/CN=Root CA' -days 3650 -config cnf "
"-extensions v3ca\n"
"openssl req -new $EC -keyout inter.key -out inter.csr "
"-subj '/CN=Inter CA' -config cnf\n"
"openssl x509 -req -in inter.csr -CA root.crt -CAkey root.key "
"-set_serial 0x100 -out inter.crt -days 1825 -extfile cnf "
"-extensions v3ca\n"
"openssl req -new $EC -keyout leaf.key -out leaf.csr "
"-subj '/CN=xmpp.example.com' -config cnf "
"-addext 'subjectAltName=DNS:xmpp.example.com,IP:192.0.2.10' "
"-addext 'keyUsage=digitalSignature,keyEncipherment' "
"-addext 'extendedKeyUsage=serverAuth,clientAuth'\n"
"openssl x509 -req -in leaf.csr -CA inter.crt -CAkey inter.key "
"-set_serial 0x1001 -out leaf.crt -days 365 -extfile cnf -extensions leaf\n"
"openssl x509 -req -in leaf.csr -CA inter.crt -CAkey inter.key "
"-set_serial 0x1002 -out expired.crt -days -1 -extfile cnf "
"-extensions leaf\n"
"openssl req -x509 -new $EC -keyout other.key -out other.crt "
"-subj '/CN=Other CA' -days 3650 -config cnf -extensions v3ca\n"
"openssl req -new $EC -keyout fake.key -out fake.csr "
"-subj '/CN=Inter CA' -config cnf\n"
"openssl x509 -req -in fake.csr -CA root.crt -CAkey root.key "
"-set_serial 0x101 -out fake.crt -days 1825 -extfile cnf "
"-extensions v3fake\n"
"cat inter.crt root.crt >ca-bundle.crt\n"
"cat root.crt inter.crt >wrong.crt\n"
"cat leaf.crt inter.crt root.crt >full.crt\n"
"cat fake.crt root.crt >fake-bundle.crt\n"
"cat inter.crt other.crt >other-bundle.crt\n"
"cat leaf.key leaf.crt >keycert.pem\n"
"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
"-aes256 -pass pass:secret -out enc.key\n"
"openssl pkey -in leaf.key -aes256 -passout pass:secret -traditional "
"-out trad.key\n"
"openssl pkcs12 -export -inkey leaf.key -in leaf.crt -certfile wrong.crt "
"-passout pass:p12pass -out leaf.p12\n"
"openssl pkcs12 -export -inkey leaf.key -in leaf.crt "
"-passout pass:p12pass -out nochain.p12\n"
"openssl x509 -in leaf.crt -outform DER -out leaf.der\n"
"openssl req -in leaf.csr -outform DER -out leaf.csr.der\n"
"openssl pkey -in root.key -outform DER -out root.key.der\n"
"openssl pkcs8 -topk8 -in leaf.key -outform DER -v2 aes256 "
"-passout pass:secret -out enc.key.der\n"
"mkdir sub\n"
"head -c $(( $(wc -c <leaf.crt) / 2 )) leaf.crt >trunc.pem\n"
"printf -- '-----BEGIN CERTIFICATE-----\\n@@not base64@@\\n"
"-----END CERTIFICATE-----\\n' >badb64.pem\n"
"head -c 2048 /dev/urandom >random.bin\n"
"printf 'just some text\\n' >text.txt\n"
"if openssl pkcs12 -export -legacy -inkey leaf.key -in leaf.crt "
"-certfile ca-bundle.crt -passout pass:p12pass -out legacy.p12 "
"2>/dev/null; then touch have-legacy; fi\n";

/* The full path of a fixture; valid for the next few calls. */
static const char *
fx(const char *name)
{
	static char	 buf[8][PATH_MAX];
	static int	 i;
	char		*p = buf[i++ % 8];

	if (snprintf(p, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		abort();
	return (p);
}

/* Run a shell command in the fixture directory; its exit status. */
static int
run(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd = NULL, *full = NULL;
	int	 rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) == -1)
		abort();
	va_end(ap);
	if (asprintf(&full, "cd '%s' && { %s ; } >/dev/null 2>&1", dir,
	    cmd) == -1)
		abort();
	rc = system(full);
	free(full);
	free(cmd);
	return (WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
}

/* 1 if path exists. */
static int
exists(const char *path)
{
	return (access(path, F_OK) == 0);
}

/* The permission bits of a file. */
static mode_t
file_mode(const char *path)
{
	struct stat	 sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return (sb.st_mode & 07777);
}

/* How many entries the fixture directory holds. */
static int
ndir(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	return (n);
}

/* pki_line_cb appending each line to a struct lines. */
static void
collect(void *arg, const char *line)
{
	struct lines	*l = arg;
	size_t		 old, add = strlen(line);

	old = l->text != NULL ? strlen(l->text) : 0;
	if ((l->text = realloc(l->text, old + add + 2)) == NULL)
		abort();
	memcpy(l->text + old, line, add);
	l->text[old + add] = '\n';
	l->text[old + add + 1] = '\0';
	l->n++;
}

/* Within each block, every indented line has its colon in one column. */
static void
aligned(const char *text)
{
	const char	*line = text, *nl, *colon;
	long		 col = -1, c;

	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		if (strncmp(line, "  ", 2) != 0) {
			col = -1;
			continue;
		}
		colon = strstr(line, " : ");
		ck_assert_msg(colon != NULL && colon < nl,
		    "no ' : ' in %.*s", (int)(nl - line), line);
		c = colon - line;
		ck_assert_msg(col == -1 || c == col, "misaligned: %.*s",
		    (int)(nl - line), line);
		col = c;
	}
}

/* The cause is set, says want, names no directory; free it. */
static void
cause_is(char *cause, const char *want)
{
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, want) != NULL, "cause '%s' lacks '%s'",
	    cause, want);
	ck_assert_msg(strstr(cause, dir) == NULL, "cause '%s' names the "
	    "directory", cause);
	ck_assert_msg(strchr(cause, '\n') == NULL, "cause '%s' is not one "
	    "line", cause);
	free(cause);
}

/* pki_describe of a fixture starts with want. */
static void
describe_is(const char *name, const char *want)
{
	char	*s;

	s = pki_describe(fx(name));
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strncmp(s, want, strlen(want)) == 0,
	    "%s: '%s' is not '%s'", name, s, want);
	free(s);
}

/* pki_inspect of a fixture succeeds; the caller frees the text. */
static char *
inspect_ok(const char *name)
{
	struct lines	 l = { NULL, 0 };
	char		*cause = NULL;

	ck_assert_msg(pki_inspect(fx(name), collect, &l, &cause) == 0,
	    "%s: %s", name, cause != NULL ? cause : "?");
	ck_assert_ptr_null(cause);
	ck_assert_ptr_nonnull(l.text);
	aligned(l.text);
	return (l.text);
}

/* pki_describe names each kind of file. */
START_TEST(test_describe)
{
	describe_is("root.key", "key (RSA 2048)");
	describe_is("leaf.key", "key (EC P-256)");
	describe_is("root.key.der", "key (RSA 2048)");
	describe_is("enc.key", "encrypted key");
	describe_is("trad.key", "encrypted key");
	describe_is("enc.key.der", "encrypted key");
	describe_is("leaf.csr", "CSR (CN=xmpp.example.com)");
	describe_is("leaf.csr.der", "CSR (CN=xmpp.example.com)");
	describe_is("leaf.crt", "certificate (CN=xmpp.example.com, expires 2");
	describe_is("leaf.der", "certificate (CN=xmpp.example.com, expires 2");
	describe_is("expired.crt", "certificate (CN=xmpp.example.com, "
	    "EXPIRED 2");
	describe_is("ca-bundle.crt", "bundle of 2 certificates");
	describe_is("full.crt", "bundle of 3 certificates");
	describe_is("keycert.pem", "key (EC P-256) and certificate (");
	describe_is("leaf.p12", "PKCS#12");
	describe_is("random.bin", "unknown");
	describe_is("text.txt", "unknown");
	describe_is("trunc.pem", "unknown");
	describe_is("missing", "unknown");
	describe_is("sub", "unknown");
}
END_TEST

/* A leaf certificate in PEM and in DER. */
START_TEST(test_inspect_cert)
{
	char	*t;

	t = inspect_ok("leaf.crt");
	ck_assert_msg(strncmp(t, "Certificate:\n", 13) == 0, "%s", t);
	ck_assert_ptr_nonnull(strstr(t, "CN=xmpp.example.com"));
	ck_assert_ptr_nonnull(strstr(t, "CN=Inter CA"));
	ck_assert_ptr_nonnull(strstr(t, " : 1001\n"));
	ck_assert_ptr_nonnull(strstr(t, " : valid\n"));
	ck_assert_ptr_nonnull(strstr(t, " UTC\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    " : DNS:xmpp.example.com, IP:192.0.2.10\n"));
	ck_assert_ptr_nonnull(strstr(t, " : serverAuth, clientAuth\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    " : digitalSignature, keyEncipherment\n"));
	ck_assert_ptr_nonnull(strstr(t, " : EC P-256\n"));
	ck_assert_ptr_nonnull(strstr(t, "  CA                  : no\n"));
	ck_assert_ptr_nonnull(strstr(t, "  SHA-256 fingerprint : "));
	ck_assert_ptr_null(strstr(t, "EXPIRED"));
	free(t);

	t = inspect_ok("leaf.der");
	ck_assert_ptr_nonnull(strstr(t, "Certificate:\n"));
	ck_assert_ptr_nonnull(strstr(t, "IP:192.0.2.10"));
	free(t);

	t = inspect_ok("expired.crt");
	ck_assert_ptr_nonnull(strstr(t, " : EXPIRED\n"));
	free(t);
}
END_TEST

/* Bundles, CSRs, keys and archives. */
START_TEST(test_inspect_others)
{
	char	*t;

	t = inspect_ok("ca-bundle.crt");
	ck_assert_ptr_nonnull(strstr(t, "Certificate 1 of 2:\n"));
	ck_assert_ptr_nonnull(strstr(t, "Certificate 2 of 2:\n"));
	ck_assert_ptr_nonnull(strstr(t, "  CA                  : yes\n"));
	ck_assert_ptr_nonnull(strstr(t, " : keyCertSign, cRLSign\n"));
	ck_assert_ptr_nonnull(strstr(t, " : RSA 2048\n"));
	ck_assert_ptr_nonnull(strstr(t, " : none\n"));
	free(t);

	t = inspect_ok("leaf.csr");
	ck_assert_msg(strncmp(t, "CSR:\n", 5) == 0, "%s", t);
	ck_assert_ptr_nonnull(strstr(t, "DNS:xmpp.example.com"));
	ck_assert_ptr_nonnull(strstr(t, "IP:192.0.2.10"));
	ck_assert_ptr_nonnull(strstr(t, " : serverAuth, clientAuth\n"));
	ck_assert_ptr_nonnull(strstr(t, " : digitalSignature, "
	    "keyEncipherment\n"));
	ck_assert_ptr_nonnull(strstr(t, "  Signature          : valid\n"));
	free(t);

	t = inspect_ok("leaf.key");
	ck_assert_str_eq(t, "Private key:\n  Key       : EC P-256\n"
	    "  Encrypted : no\n");
	free(t);

	/* Encrypted keys are described without asking for a passphrase. */
	t = inspect_ok("enc.key");
	ck_assert_ptr_nonnull(strstr(t, "  Encrypted : yes\n"));
	free(t);
	t = inspect_ok("trad.key");
	ck_assert_ptr_nonnull(strstr(t, "EC, size unknown until unlocked"));
	ck_assert_ptr_nonnull(strstr(t, "  Encrypted : yes\n"));
	free(t);

	t = inspect_ok("enc.key.der");
	ck_assert_str_eq(t, "Private key:\n  Key       : unknown until "
	    "unlocked\n  Encrypted : yes\n");
	free(t);

	t = inspect_ok("keycert.pem");
	ck_assert_ptr_nonnull(strstr(t, "Private key:\n"));
	ck_assert_ptr_nonnull(strstr(t, "Certificate:\n"));
	free(t);

	t = inspect_ok("leaf.p12");
	ck_assert_ptr_nonnull(strstr(t, "leaf.p12 is a PKCS#12 archive"));
	ck_assert_ptr_nonnull(strstr(t, "pki pkcs12-to-pem"));
	ck_assert_ptr_null(strchr(t, '/'));
	free(t);
}
END_TEST

/* Files that are not what they should be. */
START_TEST(test_inspect_errors)
{
	struct lines	 l = { NULL, 0 };
	char		*cause = NULL;

	ck_assert_int_eq(pki_inspect(fx("trunc.pem"), collect, &l, &cause),
	    -1);
	ck_assert_str_eq(cause, "trunc.pem: truncated or corrupt PEM");
	free(cause);
	cause = NULL;
	ck_assert_int_eq(pki_inspect(fx("badb64.pem"), collect, &l, &cause),
	    -1);
	ck_assert_str_eq(cause, "badb64.pem: truncated or corrupt PEM");
	free(cause);
	cause = NULL;
	ck_assert_int_eq(pki_inspect(fx("random.bin"), collect, &l, &cause),
	    -1);
	ck_assert_str_eq(cause,
	    "random.bin: not a key, CSR, certificate or PKCS#12 file");
	free(cause);
	cause = NULL;
	ck_assert_int_eq(pki_inspect(fx("text.txt"), collect, &l, &cause),
	    -1);
	cause_is(cause, "text.txt: not a key, CSR, certificate or PKCS#12");
	cause = NULL;
	ck_assert_int_eq(pki_inspect(fx("nope.pem"), collect, &l, &cause),
	    -1);
	ck_assert_str_eq(cause, "nope.pem: cannot open");
	free(cause);
	cause = NULL;
	ck_assert_int_eq(pki_inspect(fx("sub"), collect, &l, &cause), -1);
	ck_assert_str_eq(cause, "sub: not a regular file");
	free(cause);
	ck_assert_int_eq(l.n, 0);
}
END_TEST

/* Good chains verify, with the leaf in the bundle or not. */
START_TEST(test_verify_ok)
{
	char	*cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("ca-bundle.crt"),
	    NULL, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("full.crt"),
	    NULL, &cause), 0);
	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("inter.crt"),
	    fx("root.crt"), &cause), 0);
	ck_assert_int_eq(pki_verify_chain(fx("leaf.der"), fx("ca-bundle.crt"),
	    fx("root.crt"), &cause), 0);
	ck_assert_ptr_null(cause);
}
END_TEST

/* A root-first bundle verifies but is refused for its order. */
START_TEST(test_verify_order)
{
	char	*cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("wrong.crt"),
	    NULL, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, "wrong.crt is in the wrong order: "
	    "CN=Inter CA must come before CN=Root CA; pki bundle writes it "
	    "in order");
	free(cause);
}
END_TEST

/* Missing intermediates, unknown roots, expiry, bad signatures. */
START_TEST(test_verify_errors)
{
	char	*cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("root.crt"),
	    NULL, &cause), -1);
	cause_is(cause, "leaf.crt does not verify: CN=xmpp.example.com was "
	    "issued by CN=Inter CA, which is not in root.crt (missing "
	    "intermediate or unknown issuer)");
	cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"),
	    fx("other-bundle.crt"), NULL, &cause), -1);
	cause_is(cause, "CN=Root CA");
	cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("ca-bundle.crt"),
	    fx("other.crt"), &cause), -1);
	cause_is(cause, "leaf.crt does not verify: the chain ends at "
	    "CN=Root CA, which is not trusted by other.crt");
	cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("expired.crt"),
	    fx("ca-bundle.crt"), NULL, &cause), -1);
	cause_is(cause, "CN=xmpp.example.com expired on 2");
	cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"),
	    fx("fake-bundle.crt"), NULL, &cause), -1);
	cause_is(cause, "signature failure: CN=xmpp.example.com");
	cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("trunc.pem"),
	    NULL, &cause), -1);
	cause_is(cause, "trunc.pem: truncated or corrupt PEM");
	cause = NULL;

	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("nope.crt"),
	    NULL, &cause), -1);
	cause_is(cause, "nope.crt: cannot open");
}
END_TEST

/* Shuffled inputs come out leaf first; duplicates are dropped. */
START_TEST(test_bundle_chain)
{
	const char	*in[5];
	char		*cause = NULL;
	int		 n = 0;

	in[0] = fx("root.crt");
	in[1] = fx("leaf.crt");
	in[2] = fx("inter.crt");
	in[3] = fx("ca-bundle.crt");
	ck_assert_int_eq(pki_bundle(fx("b1.crt"), in, 4, 0, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(file_mode(fx("b1.crt")), 0644);
	ck_assert_int_eq(pki_check_bundle(fx("b1.crt"), &n, &cause), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("b1.crt"), NULL,
	    &cause), 0);
	ck_assert_int_eq(run("openssl verify -CAfile root.crt "
	    "-untrusted inter.crt b1.crt"), 0);

	/* The same from the wrong-order bundle, without the leaf. */
	in[0] = fx("wrong.crt");
	ck_assert_int_eq(pki_bundle(fx("b2.crt"), in, 1, 0, &cause), 0);
	ck_assert_int_eq(pki_verify_chain(fx("leaf.crt"), fx("b2.crt"), NULL,
	    &cause), 0);
	ck_assert_ptr_null(cause);

	/* Never over an existing file. */
	ck_assert_int_eq(pki_bundle(fx("b2.crt"), in, 1, 0, &cause), -1);
	cause_is(cause, "b2.crt already exists");
}
END_TEST

/* Certificates that do not form one chain are refused. */
START_TEST(test_bundle_refused)
{
	const char	*in[4];
	char		*cause = NULL;
	int		 before = ndir();

	in[0] = fx("leaf.crt");
	in[1] = fx("ca-bundle.crt");
	in[2] = fx("other.crt");
	ck_assert_int_eq(pki_bundle(fx("b3.crt"), in, 3, 0, &cause), -1);
	cause_is(cause, "other.crt: CN=Other CA does not chain to the other "
	    "certificates");
	cause = NULL;

	in[0] = fx("leaf.crt");
	in[1] = fx("expired.crt");
	in[2] = fx("ca-bundle.crt");
	ck_assert_int_eq(pki_bundle(fx("b3.crt"), in, 3, 0, &cause), -1);
	cause_is(cause, "are both leaf certificates");
	cause = NULL;

	in[0] = fx("keycert.pem");
	ck_assert_int_eq(pki_bundle(fx("b3.crt"), in, 1, 0, &cause), -1);
	cause_is(cause, "keycert.pem holds a private key");
	cause = NULL;

	in[0] = fx("random.bin");
	ck_assert_int_eq(pki_bundle(fx("b3.crt"), in, 1, 1, &cause), -1);
	cause_is(cause, "random.bin: not a key");
	cause = NULL;

	in[0] = fx("leaf.csr");
	ck_assert_int_eq(pki_bundle(fx("b3.crt"), in, 1, 1, &cause), -1);
	cause_is(cause, "leaf.csr: no certificate in it");

	ck_assert_int_eq(exists(fx("b3.crt")), 0);
	ck_assert_int_eq(ndir(), before);
}
END_TEST

/* A trust bundle takes any certificates, in input order, once each. */
START_TEST(test_bundle_trust)
{
	const char	*in[4];
	char		*cause = NULL;
	int		 n = 0;

	in[0] = fx("other.crt");
	in[1] = fx("root.crt");
	in[2] = fx("other.crt");
	in[3] = fx("leaf.crt");
	ck_assert_int_eq(pki_bundle(fx("trust.crt"), in, 4, 1, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(pki_check_bundle(fx("trust.crt"), &n, &cause), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(run("openssl x509 -in trust.crt -noout -subject | "
	    "grep -q 'Other CA'"), 0);
}
END_TEST

/* A wrong passphrase changes nothing; the right one unlocks in place. */
START_TEST(test_unlock)
{
	char	*cause = NULL;
	int	 before;

	ck_assert_int_eq(run("cp enc.key u.key && chmod 0644 u.key"), 0);
	before = ndir();
	ck_assert_int_eq(pki_is_encrypted_key(fx("u.key")), 1);
	ck_assert_int_eq(pki_unlock(fx("u.key"), "wrong", &cause), -1);
	cause_is(cause, "u.key: wrong passphrase");
	cause = NULL;
	ck_assert_int_eq(pki_is_encrypted_key(fx("u.key")), 1);
	ck_assert_int_eq(ndir(), before);

	ck_assert_int_eq(pki_unlock(fx("u.key"), "secret", &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(pki_is_encrypted_key(fx("u.key")), 0);
	ck_assert_int_eq(file_mode(fx("u.key")), 0600);
	ck_assert_int_eq(ndir(), before);
	ck_assert_int_eq(run("openssl pkey -in u.key -noout -passin pass:"),
	    0);
	ck_assert_int_eq(run("grep -q 'BEGIN PRIVATE KEY' u.key"), 0);
	ck_assert_int_eq(pki_check_key(fx("u.key"), &cause), 0);

	ck_assert_int_eq(pki_unlock(fx("u.key"), "secret", &cause), -1);
	cause_is(cause, "u.key: the key is not encrypted");
	cause = NULL;

	/* The traditional format too. */
	ck_assert_int_eq(run("cp trad.key t.key"), 0);
	ck_assert_int_eq(pki_is_encrypted_key(fx("t.key")), 1);
	ck_assert_int_eq(pki_unlock(fx("t.key"), "Secret", &cause), -1);
	cause_is(cause, "t.key: wrong passphrase");
	cause = NULL;
	ck_assert_int_eq(pki_is_encrypted_key(fx("t.key")), 1);
	ck_assert_int_eq(pki_unlock(fx("t.key"), "secret", &cause), 0);
	ck_assert_int_eq(pki_is_encrypted_key(fx("t.key")), 0);
	ck_assert_int_eq(pki_key_matches(fx("t.key"), fx("leaf.crt"), &cause),
	    1);
	ck_assert_ptr_null(cause);

	before = ndir();
	ck_assert_int_eq(pki_unlock(fx("leaf.crt"), "secret", &cause), -1);
	cause_is(cause, "leaf.crt: not a PEM private key");
	cause = NULL;
	ck_assert_int_eq(pki_unlock(fx("leaf.der"), "secret", &cause), -1);
	cause_is(cause, "leaf.der: not a PEM private key");
	cause = NULL;
	ck_assert_int_eq(pki_unlock(fx("nope.key"), "secret", &cause), -1);
	cause_is(cause, "nope.key: cannot open");
	ck_assert_int_eq(ndir(), before);
}
END_TEST

/* pki_is_encrypted_key on each kind of file. */
START_TEST(test_is_encrypted)
{
	ck_assert_int_eq(pki_is_encrypted_key(fx("enc.key")), 1);
	ck_assert_int_eq(pki_is_encrypted_key(fx("trad.key")), 1);
	ck_assert_int_eq(pki_is_encrypted_key(fx("leaf.key")), 0);
	ck_assert_int_eq(pki_is_encrypted_key(fx("leaf.crt")), 0);
	ck_assert_int_eq(pki_is_encrypted_key(fx("leaf.p12")), 0);
	ck_assert_int_eq(pki_is_encrypted_key(fx("enc.key.der")), 0);
	ck_assert_int_eq(pki_is_encrypted_key(fx("random.bin")), 0);
	ck_assert_int_eq(pki_is_encrypted_key(fx("missing")), 0);
}
END_TEST

/* A wrong passphrase or a wrong file leaves nothing behind. */
START_TEST(test_p12_errors)
{
	char	*cause = NULL;
	int	 chain = -1, before = ndir();

	ck_assert_int_eq(pki_p12_to_pem(fx("leaf.p12"), "nope", fx("p.key"),
	    fx("p.crt"), fx("p-chain.crt"), &chain, &cause), -1);
	cause_is(cause, "leaf.p12: wrong passphrase");
	cause = NULL;
	ck_assert_int_eq(chain, 0);
	ck_assert_int_eq(ndir(), before);

	ck_assert_int_eq(pki_p12_to_pem(fx("leaf.crt"), "p12pass",
	    fx("p.key"), fx("p.crt"), fx("p-chain.crt"), &chain, &cause), -1);
	cause_is(cause, "leaf.crt: not a PKCS#12 file");
	cause = NULL;
	ck_assert_int_eq(ndir(), before);

	/* An existing output: nothing is overwritten or created. */
	ck_assert_int_eq(run("echo keep >p.crt"), 0);
	before = ndir();
	ck_assert_int_eq(pki_p12_to_pem(fx("leaf.p12"), "p12pass",
	    fx("p.key"), fx("p.crt"), fx("p-chain.crt"), &chain, &cause), -1);
	cause_is(cause, "p.crt already exists");
	ck_assert_int_eq(ndir(), before);
	ck_assert_int_eq(run("grep -qx keep p.crt"), 0);
}
END_TEST

/* The right passphrase gives a key, its certificate and the chain. */
START_TEST(test_p12_ok)
{
	char	*cause = NULL;
	int	 chain = -1;

	ck_assert_int_eq(pki_p12_to_pem(fx("leaf.p12"), "p12pass",
	    fx("q.key"), fx("q.crt"), fx("q-chain.crt"), &chain, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(chain, 1);
	ck_assert_int_eq(file_mode(fx("q.key")), 0600);
	ck_assert_int_eq(file_mode(fx("q.crt")), 0644);
	ck_assert_int_eq(file_mode(fx("q-chain.crt")), 0644);
	ck_assert_int_eq(pki_key_matches(fx("q.key"), fx("q.crt"), &cause), 1);
	ck_assert_int_eq(pki_is_encrypted_key(fx("q.key")), 0);
	ck_assert_int_eq(run("cmp q.crt leaf.crt"), 0);
	/* The archive held root before inter: the chain comes out in order. */
	ck_assert_int_eq(pki_verify_chain(fx("q.crt"), fx("q-chain.crt"),
	    NULL, &cause), 0);
	ck_assert_int_eq(run("cmp q-chain.crt ca-bundle.crt"), 0);
	ck_assert_ptr_null(cause);

	ck_assert_int_eq(pki_p12_to_pem(fx("nochain.p12"), "p12pass",
	    fx("r.key"), fx("r.crt"), fx("r-chain.crt"), &chain, &cause), 0);
	ck_assert_int_eq(chain, 0);
	ck_assert_int_eq(exists(fx("r-chain.crt")), 0);
	ck_assert_int_eq(pki_key_matches(fx("r.key"), fx("r.crt"), &cause), 1);
	ck_assert_ptr_null(cause);
}
END_TEST

/* Archives from older tools (RC2) through the legacy provider. */
START_TEST(test_p12_legacy)
{
	char	*cause = NULL;
	int	 chain = -1;

	if (!have_legacy)
		return;
	ck_assert_int_eq(pki_p12_to_pem(fx("legacy.p12"), "p12pass",
	    fx("l.key"), fx("l.crt"), fx("l-chain.crt"), &chain, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(chain, 1);
	ck_assert_int_eq(pki_key_matches(fx("l.key"), fx("l.crt"), &cause), 1);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(pki_p12_to_pem(fx("legacy.p12"), "bad",
	    fx("m.key"), fx("m.crt"), fx("m-chain.crt"), &chain, &cause), -1);
	cause_is(cause, "legacy.p12: wrong passphrase");
	ck_assert_int_eq(exists(fx("m.key")), 0);
}
END_TEST

/* Make the fixtures; 0 on success. */
static int
make_fixtures(void)
{
	FILE	*f;

	if ((f = fopen(fx("gen.sh"), "w")) == NULL)
		return (-1);
	fputs(fixtures, f);
	if (fclose(f) != 0)
		return (-1);
	if (run("sh gen.sh") != 0)
		return (-1);
	have_legacy = exists(fx("have-legacy"));
	return (0);
}

/* The suite. */
static Suite *
pki_cert_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("pki_cert");

	tc = tcase_create("look");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_inspect_cert);
	tcase_add_test(tc, test_inspect_others);
	tcase_add_test(tc, test_inspect_errors);
	tcase_add_test(tc, test_is_encrypted);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_verify_ok);
	tcase_add_test(tc, test_verify_order);
	tcase_add_test(tc, test_verify_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("bundle");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bundle_chain);
	tcase_add_test(tc, test_bundle_refused);
	tcase_add_test(tc, test_bundle_trust);
	suite_add_tcase(s, tc);

	tc = tcase_create("convert");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unlock);
	tcase_add_test(tc, test_p12_errors);
	tcase_add_test(tc, test_p12_ok);
	tcase_add_test(tc, test_p12_legacy);
	suite_add_tcase(s, tc);

	return (s);
}

/* Make the fixtures, run the suite, clean up; the exit status counts. */
int
main(void)
{
	const char	*tmp;
	int		 rc;

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/check_pki_cert.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return (EXIT_FAILURE);
	}
	if (make_fixtures() == -1) {
		fprintf(stderr, "check_pki_cert: cannot make the fixtures "
		    "with openssl in %s\n", dir);
		run("cd / && rm -rf '%s'", dir);
		return (EXIT_FAILURE);
	}

	rc = unit_run(pki_cert_suite());
	run("cd / && rm -rf '%s'", dir);
	return (rc);
}
