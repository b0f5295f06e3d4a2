/*
 * Looking at what admins upload: keys, CSRs, certificates, bundles and
 * PKCS#12 archives, in PEM or DER. Every file is read whole into memory
 * and decoded from there, so nothing here ever prompts for a passphrase
 * or reads a file twice. Checking chains and bundling is in pki_chain.c,
 * unlocking keys and unpacking PKCS#12 archives in pki_conv.c.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "pki_local.h"
#include "xmalloc.h"

#define CERT_MAXFILE	(8 * 1024 * 1024)	/* no key or bundle is larger */
#define CERT_MAXKV	16

/* One "Label : value" line of an inspect block; value is owned. */
struct cert_kv {
	const char	*label;
	char		*value;
};

static struct cert_obj *cert_add(struct cert_file *, int);
static int	 cert_pem_block(struct cert_file *, const char *, const char *,
		    const unsigned char *, long);
static int	 cert_parse_pem(struct cert_file *, const unsigned char *,
		    size_t);
static void	 cert_parse_der(struct cert_file *, const unsigned char *,
		    size_t);
static int	 cert_load(const char *, struct cert_file *, char **);
static char	*cert_clean(char *);
static char	*cert_asn1str(const ASN1_STRING *);
static void	 cert_join(char **, const char *, const char *);
static char	*cert_dn(const X509_NAME *);
static const char *cert_validity(X509 *);
static char	*cert_serial(X509 *);
static char	*cert_fingerprint(X509 *);
static char	*cert_keydesc(EVP_PKEY *);
static char	*cert_sans(GENERAL_NAMES *);
static char	*cert_ku(ASN1_BIT_STRING *);
static char	*cert_eku(EXTENDED_KEY_USAGE *);
static char	*cert_head(const char *, int, int);
static void	 cert_kv_add(struct cert_kv *, int *, const char *, char *);
static void	 cert_kv_emit(pki_line_cb, void *, struct cert_kv *, int);
static void	 cert_inspect_x509(X509 *, pki_line_cb, void *);
static void	 cert_inspect_req(X509_REQ *, pki_line_cb, void *);
static void	 cert_inspect_key(struct cert_obj *, pki_line_cb, void *);
static char	*cert_describe_x509(X509 *);

/* The last path component, for messages. */
const char *
pki_cert_base(const char *path)
{
	const char	*p = strrchr(path, '/');

	return (p != NULL ? p + 1 : path);
}

/* Read a whole file into *buf, which the caller frees. */
int
pki_cert_read(const char *path, unsigned char **buf, size_t *len, char **cause)
{
	struct stat	 sb;
	unsigned char	*b = NULL;
	size_t		 size = 8192, have = 0;
	ssize_t		 r;
	int		 fd = -1, rc = -1;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: cannot open", pki_cert_base(path));
		goto out;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		xasprintf(cause, "%s: not a regular file", pki_cert_base(path));
		goto out;
	}
	b = xmalloc(size);
	for (;;) {
		if (have == size) {
			if (size > CERT_MAXFILE) {
				xasprintf(cause, "%s: too large for a key, "
				    "certificate or bundle",
				    pki_cert_base(path));
				goto out;
			}
			b = xreallocarray(b, 2, size);
			size *= 2;
		}
		if ((r = read(fd, b + have, size - have)) == -1) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "%s: cannot read: %s",
			    pki_cert_base(path), strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		have += r;
	}
	*buf = b;
	b = NULL;
	*len = have;
	rc = 0;
out:
	free(b);
	if (fd != -1)
		close(fd);
	return (rc);
}

/* Append a new object of the given type to the file's list. */
static struct cert_obj *
cert_add(struct cert_file *cf, int type)
{
	struct cert_obj	*o;

	o = xcalloc(1, sizeof(*o));
	o->type = type;
	cf->n[type]++;
	TAILQ_INSERT_TAIL(&cf->objs, o, entry);
	return (o);
}

/*
 * Decode one PEM block. Blocks we do not use (EC PARAMETERS, PUBLIC KEY)
 * are skipped; a block of a known kind that does not decode is corrupt.
 */
static int
cert_pem_block(struct cert_file *cf, const char *name, const char *header,
    const unsigned char *data, long len)
{
	const unsigned char	*p = data;
	struct cert_obj		*o;
	X509			*x;
	X509_REQ		*req;
	X509_SIG		*sig;
	EVP_PKEY		*key;
	int			 type;

	if (strcmp(name, PEM_STRING_X509) == 0 ||
	    strcmp(name, PEM_STRING_X509_OLD) == 0 ||
	    strcmp(name, PEM_STRING_X509_TRUSTED) == 0) {
		if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
			x = d2i_X509_AUX(NULL, &p, len);
		else
			x = d2i_X509(NULL, &p, len);
		if (x == NULL)
			return (-1);
		cert_add(cf, CERT_X509)->x = x;
		return (0);
	}
	if (strcmp(name, PEM_STRING_X509_REQ) == 0 ||
	    strcmp(name, PEM_STRING_X509_REQ_OLD) == 0) {
		if ((req = d2i_X509_REQ(NULL, &p, len)) == NULL)
			return (-1);
		cert_add(cf, CERT_REQ)->req = req;
		return (0);
	}
	if (strcmp(name, PEM_STRING_PKCS8) == 0) {
		if ((sig = d2i_X509_SIG(NULL, &p, len)) == NULL)
			return (-1);
		X509_SIG_free(sig);
		cert_add(cf, CERT_KEY)->encrypted = 1;
		return (0);
	}
	if (strcmp(name, PEM_STRING_PKCS8INF) == 0)
		type = EVP_PKEY_NONE;
	else if (strcmp(name, PEM_STRING_RSA) == 0)
		type = EVP_PKEY_RSA;
	else if (strcmp(name, PEM_STRING_ECPRIVATEKEY) == 0)
		type = EVP_PKEY_EC;
	else if (strcmp(name, PEM_STRING_DSA) == 0)
		type = EVP_PKEY_DSA;
	else
		return (0);

	/* Traditional encrypted keys: RFC 1421 headers before the data. */
	if (type != EVP_PKEY_NONE && header != NULL &&
	    strstr(header, "Proc-Type:") != NULL &&
	    strstr(header, "ENCRYPTED") != NULL) {
		o = cert_add(cf, CERT_KEY);
		o->encrypted = 1;
		o->algo = type == EVP_PKEY_RSA ? "RSA" :
		    type == EVP_PKEY_EC ? "EC" : "DSA";
		return (0);
	}
	if (type == EVP_PKEY_NONE)
		key = d2i_AutoPrivateKey(NULL, &p, len);
	else
		key = d2i_PrivateKey(type, NULL, &p, len);
	if (key == NULL)
		return (-1);
	cert_add(cf, CERT_KEY)->key = key;
	return (0);
}

/* Decode every PEM block of a buffer; -1 if one is truncated or corrupt. */
static int
cert_parse_pem(struct cert_file *cf, const unsigned char *buf, size_t len)
{
	BIO		*bio = NULL;
	char		*name = NULL, *header = NULL;
	unsigned char	*data = NULL;
	unsigned long	 e;
	long		 dlen;
	int		 rc = -1;

	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto out;
	for (;;) {
		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				break;
			goto out;
		}
		if (cert_pem_block(cf, name, header, data, dlen) == -1)
			goto out;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	rc = 0;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	ERR_clear_error();
	return (rc);
}

/*
 * Decode a DER buffer as one certificate, CSR, PKCS#12, encrypted key or
 * key, in that order: an encrypted key is recognised before the key
 * decoders could ask for its passphrase. Each must use the whole buffer,
 * so that a random file is not taken for something it only starts like.
 */
static void
cert_parse_der(struct cert_file *cf, const unsigned char *buf, size_t len)
{
	const unsigned char	*p, *end = buf + len;
	X509			*x;
	X509_REQ		*req;
	PKCS12			*p12;
	EVP_PKEY		*key;
	X509_SIG		*sig;

	p = buf;
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p == end) {
		cert_add(cf, CERT_X509)->x = x;
		return;
	}
	X509_free(x);

	p = buf;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	if (req != NULL && p == end) {
		cert_add(cf, CERT_REQ)->req = req;
		return;
	}
	X509_REQ_free(req);

	p = buf;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	PKCS12_free(p12);
	if (p12 != NULL && p == end) {
		cf->p12 = 1;
		return;
	}

	p = buf;
	sig = d2i_X509_SIG(NULL, &p, (long)len);
	X509_SIG_free(sig);
	if (sig != NULL && p == end) {
		cert_add(cf, CERT_KEY)->encrypted = 1;
		return;
	}

	p = buf;
	key = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (key != NULL && p == end) {
		cert_add(cf, CERT_KEY)->key = key;
		return;
	}
	EVP_PKEY_free(key);
}

/* Decode what a buffer read from path holds into cf. */
int
pki_cert_parse(const char *path, const unsigned char *buf, size_t len,
    struct cert_file *cf, char **cause)
{
	memset(cf, 0, sizeof(*cf));
	TAILQ_INIT(&cf->objs);
	if (memmem(buf, len, "-----BEGIN ", 11) != NULL) {
		cf->pem = 1;
		if (cert_parse_pem(cf, buf, len) == -1) {
			pki_cert_clear(cf);
			xasprintf(cause, "%s: truncated or corrupt PEM",
			    pki_cert_base(path));
			return (-1);
		}
	} else
		cert_parse_der(cf, buf, len);
	ERR_clear_error();
	if (TAILQ_EMPTY(&cf->objs) && !cf->p12) {
		xasprintf(cause, "%s: not a key, CSR, certificate or PKCS#12 "
		    "file", pki_cert_base(path));
		return (-1);
	}
	return (0);
}

/* Read and decode a file; pki_cert_clear frees what it holds. */
static int
cert_load(const char *path, struct cert_file *cf, char **cause)
{
	unsigned char	*buf = NULL;
	size_t		 len;
	int		 rc = -1;

	memset(cf, 0, sizeof(*cf));
	TAILQ_INIT(&cf->objs);
	if (pki_cert_read(path, &buf, &len, cause) == -1)
		goto out;
	rc = pki_cert_parse(path, buf, len, cf, cause);
out:
	free(buf);
	return (rc);
}

/* Free the objects of a file. */
void
pki_cert_clear(struct cert_file *cf)
{
	struct cert_obj	*o;

	while ((o = TAILQ_FIRST(&cf->objs)) != NULL) {
		TAILQ_REMOVE(&cf->objs, o, entry);
		X509_free(o->x);
		X509_REQ_free(o->req);
		EVP_PKEY_free(o->key);
		free(o);
	}
	memset(cf->n, 0, sizeof(cf->n));
}

/*
 * The certificates of a file, in file order; at least one. With only set,
 * anything else in the file (a key, a CSR) is refused.
 */
STACK_OF(X509) *
pki_cert_certs(const char *path, int only, char **cause)
{
	struct cert_file	 cf;
	struct cert_obj		*o;
	STACK_OF(X509)		*sk = NULL;

	if (cert_load(path, &cf, cause) == -1)
		return (NULL);
	if (cf.p12) {
		xasprintf(cause, "%s is a PKCS#12 archive; use pki "
		    "pkcs12-to-pem first", pki_cert_base(path));
		goto out;
	}
	if (cf.n[CERT_X509] == 0) {
		xasprintf(cause, "%s: no certificate in it",
		    pki_cert_base(path));
		goto out;
	}
	if (only && (cf.n[CERT_KEY] != 0 || cf.n[CERT_REQ] != 0)) {
		xasprintf(cause, "%s holds a %s as well as certificates; "
		    "a bundle holds certificates only", pki_cert_base(path),
		    cf.n[CERT_KEY] != 0 ? "private key" : "CSR");
		goto out;
	}
	if ((sk = sk_X509_new_null()) == NULL) {
		xasprintf(cause, "%s: out of memory", pki_cert_base(path));
		goto out;
	}
	TAILQ_FOREACH(o, &cf.objs, entry) {
		if (o->type != CERT_X509)
			continue;
		if (!sk_X509_push(sk, o->x)) {
			sk_X509_pop_free(sk, X509_free);
			sk = NULL;
			xasprintf(cause, "%s: out of memory",
			    pki_cert_base(path));
			goto out;
		}
		o->x = NULL;
	}
out:
	pki_cert_clear(&cf);
	return (sk);
}

/* Replace control characters so that s stays one printable line. */
static char *
cert_clean(char *s)
{
	unsigned char	*p;

	for (p = (unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return (s);
}

/* An ASN.1 string as an allocated, printable C string. */
static char *
cert_asn1str(const ASN1_STRING *as)
{
	const unsigned char	*d = ASN1_STRING_get0_data(as);
	int			 i, len = ASN1_STRING_length(as);
	char			*s;

	s = xmalloc((size_t)len + 1);
	for (i = 0; i < len; i++)
		s[i] = d[i] == '\0' ? '?' : (char)d[i];
	s[len] = '\0';
	return (cert_clean(s));
}

/* Append item to *s (which may be NULL) after sep. */
static void
cert_join(char **s, const char *sep, const char *item)
{
	char	*t;

	if (*s == NULL) {
		*s = xstrdup(item);
		return;
	}
	xasprintf(&t, "%s%s%s", *s, sep, item);
	free(*s);
	*s = t;
}

/* A distinguished name as "CN=a, O=b", in the order it is encoded. */
static char *
cert_dn(const X509_NAME *name)
{
	BIO	*bio;
	char	*p, *s;
	long	 len;

	if (X509_NAME_entry_count(name) == 0)
		return (xstrdup("(empty)"));
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return (xstrdup("(unreadable)"));
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_SEP_CPLUS_SPC |
	    XN_FLAG_FN_SN | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)) <
	    0 || (len = BIO_get_mem_data(bio, &p)) <= 0)
		s = xstrdup("(unreadable)");
	else
		s = cert_clean(xstrndup(p, (size_t)len));
	BIO_free(bio);
	return (s);
}

/* "CN=<common name>", or the whole name when it has no CN. */
char *
pki_cert_namewho(const X509_NAME *name)
{
	const X509_NAME_ENTRY	*e;
	unsigned char		*utf8 = NULL;
	char			*s, *v;
	int			 i, len;

	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0 ||
	    (e = X509_NAME_get_entry(name, i)) == NULL ||
	    (len = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(e))) < 0) {
		ERR_clear_error();
		return (cert_dn(name));
	}
	v = xstrndup((char *)utf8, (size_t)len);
	OPENSSL_free(utf8);
	xasprintf(&s, "CN=%s", cert_clean(v));
	free(v);
	return (s);
}

/* A certificate named by its subject, as pki_cert_namewho. */
char *
pki_cert_who(X509 *x)
{
	return (pki_cert_namewho(X509_get_subject_name(x)));
}

/* "YYYY-MM-DD HH:MM:SS UTC", or only the date. */
char *
pki_cert_time(const ASN1_TIME *t, int withtime)
{
	struct tm	 tm;
	char		 buf[64];

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return (xstrdup("(unreadable)"));
	}
	if (strftime(buf, sizeof(buf), withtime ? "%Y-%m-%d %H:%M:%S UTC" :
	    "%Y-%m-%d", &tm) == 0)
		return (xstrdup("(unreadable)"));
	return (xstrdup(buf));
}

/* "valid", "EXPIRED" or "not yet valid", now. */
static const char *
cert_validity(X509 *x)
{
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		return ("not yet valid");
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		return ("EXPIRED");
	return ("valid");
}

/* The serial number in hex. */
static char *
cert_serial(X509 *x)
{
	BIGNUM	*bn;
	char	*hex, *s;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
	    NULL || (hex = BN_bn2hex(bn)) == NULL) {
		BN_free(bn);
		ERR_clear_error();
		return (xstrdup("(unreadable)"));
	}
	s = xstrdup(hex);
	OPENSSL_free(hex);
	BN_free(bn);
	return (s);
}

/* The SHA-256 fingerprint as uppercase colon hex. */
static char *
cert_fingerprint(X509 *x)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 len, i;
	char		*s;

	if (!X509_digest(x, EVP_sha256(), md, &len) || len == 0) {
		ERR_clear_error();
		return (xstrdup("(unavailable)"));
	}
	s = xmalloc((size_t)len * 3);
	for (i = 0; i < len; i++)
		snprintf(s + i * 3, 4, "%02X%s", md[i], i + 1 < len ? ":" : "");
	return (s);
}

/* "RSA 2048", "EC P-256", "Ed25519": the type and size of a key. */
static char *
cert_keydesc(EVP_PKEY *key)
{
	char		 group[80];
	const char	*nist = NULL, *name;
	char		*s;
	int		 nid;

	if (EVP_PKEY_is_a(key, "RSA"))
		xasprintf(&s, "RSA %d", EVP_PKEY_get_bits(key));
	else if (EVP_PKEY_is_a(key, "RSA-PSS"))
		xasprintf(&s, "RSA-PSS %d", EVP_PKEY_get_bits(key));
	else if (EVP_PKEY_is_a(key, "EC")) {
		if (EVP_PKEY_get_group_name(key, group, sizeof(group),
		    NULL) != 1)
			xasprintf(&s, "EC %d", EVP_PKEY_get_bits(key));
		else {
			if ((nid = OBJ_txt2nid(group)) != NID_undef)
				nist = EC_curve_nid2nist(nid);
			xasprintf(&s, "EC %s", nist != NULL ? nist : group);
		}
	} else if (EVP_PKEY_is_a(key, "ED25519"))
		s = xstrdup("Ed25519");
	else if (EVP_PKEY_is_a(key, "ED448"))
		s = xstrdup("Ed448");
	else if (EVP_PKEY_is_a(key, "DSA"))
		xasprintf(&s, "DSA %d", EVP_PKEY_get_bits(key));
	else {
		name = EVP_PKEY_get0_type_name(key);
		xasprintf(&s, "%s %d", name != NULL ? name : "unknown",
		    EVP_PKEY_get_bits(key));
	}
	ERR_clear_error();
	return (s);
}

/* "DNS:a, IP:1.2.3.4", or "none". */
static char *
cert_sans(GENERAL_NAMES *gens)
{
	const GENERAL_NAME	*g;
	const unsigned char	*ip;
	char			 addr[INET6_ADDRSTRLEN], *s = NULL, *v, *item;
	int			 i, len;

	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		item = NULL;
		switch (g->type) {
		case GEN_DNS:
			v = cert_asn1str(g->d.dNSName);
			xasprintf(&item, "DNS:%s", v);
			free(v);
			break;
		case GEN_IPADD:
			ip = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if ((len == 4 && inet_ntop(AF_INET, ip, addr,
			    sizeof(addr)) != NULL) || (len == 16 &&
			    inet_ntop(AF_INET6, ip, addr,
			    sizeof(addr)) != NULL))
				xasprintf(&item, "IP:%s", addr);
			else
				item = xstrdup("IP:(malformed)");
			break;
		case GEN_EMAIL:
			v = cert_asn1str(g->d.rfc822Name);
			xasprintf(&item, "email:%s", v);
			free(v);
			break;
		case GEN_URI:
			v = cert_asn1str(g->d.uniformResourceIdentifier);
			xasprintf(&item, "URI:%s", v);
			free(v);
			break;
		case GEN_DIRNAME:
			v = cert_dn(g->d.directoryName);
			xasprintf(&item, "DirName:%s", v);
			free(v);
			break;
		default:
			item = xstrdup("othername");
			break;
		}
		cert_join(&s, ", ", item);
		free(item);
	}
	return (s != NULL ? s : xstrdup("none"));
}

/* "digitalSignature, keyEncipherment", or "none". */
static char *
cert_ku(ASN1_BIT_STRING *ku)
{
	static const char *const names[] = {
		"digitalSignature", "nonRepudiation", "keyEncipherment",
		"dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign",
		"encipherOnly", "decipherOnly"
	};
	char	*s = NULL;
	size_t	 i;

	for (i = 0; ku != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (ASN1_BIT_STRING_get_bit(ku, (int)i))
			cert_join(&s, ", ", names[i]);
	}
	return (s != NULL ? s : xstrdup("none"));
}

/* "serverAuth, clientAuth", or "none". */
static char *
cert_eku(EXTENDED_KEY_USAGE *eku)
{
	const ASN1_OBJECT	*obj;
	char			 buf[128], *s = NULL;
	int			 i, nid;

	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		obj = sk_ASN1_OBJECT_value(eku, i);
		if ((nid = OBJ_obj2nid(obj)) != NID_undef)
			cert_join(&s, ", ", OBJ_nid2sn(nid));
		else if (OBJ_obj2txt(buf, sizeof(buf), obj, 1) > 0)
			cert_join(&s, ", ", buf);
	}
	return (s != NULL ? s : xstrdup("none"));
}

/* "Certificate:" for the only one, "Certificate 2 of 3:" otherwise. */
static char *
cert_head(const char *what, int i, int n)
{
	char	*s;

	if (n == 1)
		xasprintf(&s, "%s:", what);
	else
		xasprintf(&s, "%s %d of %d:", what, i, n);
	return (s);
}

/* Add a line to an inspect block; the block takes value. */
static void
cert_kv_add(struct cert_kv *kv, int *n, const char *label, char *value)
{
	if (*n >= CERT_MAXKV) {
		free(value);
		return;
	}
	kv[*n].label = label;
	kv[*n].value = value;
	(*n)++;
}

/* Print an inspect block with its labels padded to one width; free it. */
static void
cert_kv_emit(pki_line_cb cb, void *arg, struct cert_kv *kv, int n)
{
	char	*line;
	int	 i, w = 0, len;

	for (i = 0; i < n; i++) {
		if ((len = (int)strlen(kv[i].label)) > w)
			w = len;
	}
	for (i = 0; i < n; i++) {
		xasprintf(&line, "  %-*s : %s", w, kv[i].label, kv[i].value);
		cb(arg, line);
		free(line);
		free(kv[i].value);
	}
}

/* The inspect lines of a certificate. */
static void
cert_inspect_x509(X509 *x, pki_line_cb cb, void *arg)
{
	struct cert_kv		 kv[CERT_MAXKV];
	GENERAL_NAMES		*sans = NULL;
	ASN1_BIT_STRING		*ku = NULL;
	EXTENDED_KEY_USAGE	*eku = NULL;
	BASIC_CONSTRAINTS	*bc = NULL;
	EVP_PKEY		*key;
	int			 n = 0;

	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL);
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	key = X509_get0_pubkey(x);

	cert_kv_add(kv, &n, "Subject", cert_dn(X509_get_subject_name(x)));
	cert_kv_add(kv, &n, "Issuer", cert_dn(X509_get_issuer_name(x)));
	cert_kv_add(kv, &n, "Serial", cert_serial(x));
	cert_kv_add(kv, &n, "Not before",
	    pki_cert_time(X509_get0_notBefore(x), 1));
	cert_kv_add(kv, &n, "Not after",
	    pki_cert_time(X509_get0_notAfter(x), 1));
	cert_kv_add(kv, &n, "Validity", xstrdup(cert_validity(x)));
	cert_kv_add(kv, &n, "SANs", cert_sans(sans));
	cert_kv_add(kv, &n, "Key", key != NULL ? cert_keydesc(key) :
	    xstrdup("(unreadable)"));
	cert_kv_add(kv, &n, "Key usage", cert_ku(ku));
	cert_kv_add(kv, &n, "Extended key usage", cert_eku(eku));
	cert_kv_add(kv, &n, "CA", xstrdup(bc != NULL && bc->ca ? "yes" :
	    "no"));
	cert_kv_add(kv, &n, "SHA-256 fingerprint", cert_fingerprint(x));
	cert_kv_emit(cb, arg, kv, n);

	GENERAL_NAMES_free(sans);
	ASN1_BIT_STRING_free(ku);
	EXTENDED_KEY_USAGE_free(eku);
	BASIC_CONSTRAINTS_free(bc);
	ERR_clear_error();
}

/* The inspect lines of a CSR, with the extensions it asks for. */
static void
cert_inspect_req(X509_REQ *req, pki_line_cb cb, void *arg)
{
	struct cert_kv			 kv[CERT_MAXKV];
	STACK_OF(X509_EXTENSION)	*exts = NULL;
	GENERAL_NAMES			*sans = NULL;
	ASN1_BIT_STRING			*ku = NULL;
	EXTENDED_KEY_USAGE		*eku = NULL;
	EVP_PKEY			*key;
	int				 n = 0, ok;

	exts = X509_REQ_get_extensions(req);
	sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	ku = X509V3_get_d2i(exts, NID_key_usage, NULL, NULL);
	eku = X509V3_get_d2i(exts, NID_ext_key_usage, NULL, NULL);
	key = X509_REQ_get0_pubkey(req);
	ok = key != NULL && X509_REQ_verify(req, key) == 1;

	cert_kv_add(kv, &n, "Subject", cert_dn(X509_REQ_get_subject_name(req)));
	cert_kv_add(kv, &n, "SANs", cert_sans(sans));
	cert_kv_add(kv, &n, "Key", key != NULL ? cert_keydesc(key) :
	    xstrdup("(unreadable)"));
	cert_kv_add(kv, &n, "Key usage", cert_ku(ku));
	cert_kv_add(kv, &n, "Extended key usage", cert_eku(eku));
	cert_kv_add(kv, &n, "Signature", xstrdup(ok ? "valid" : "INVALID"));
	cert_kv_emit(cb, arg, kv, n);

	GENERAL_NAMES_free(sans);
	ASN1_BIT_STRING_free(ku);
	EXTENDED_KEY_USAGE_free(eku);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
}

/* The inspect lines of a private key. */
static void
cert_inspect_key(struct cert_obj *o, pki_line_cb cb, void *arg)
{
	struct cert_kv	 kv[CERT_MAXKV];
	char		*v;
	int		 n = 0;

	if (o->key != NULL)
		v = cert_keydesc(o->key);
	else if (o->algo != NULL)
		xasprintf(&v, "%s, size unknown until unlocked", o->algo);
	else
		v = xstrdup("unknown until unlocked");
	cert_kv_add(kv, &n, "Key", v);
	cert_kv_add(kv, &n, "Encrypted", xstrdup(o->encrypted ? "yes" : "no"));
	cert_kv_emit(cb, arg, kv, n);
}

/* "certificate (CN=x, expires 2027-11-23)" and its variants. */
static char *
cert_describe_x509(X509 *x)
{
	const char	*v = cert_validity(x);
	char		*who, *date, *s;

	who = pki_cert_who(x);
	if (strcmp(v, "not yet valid") == 0) {
		date = pki_cert_time(X509_get0_notBefore(x), 0);
		xasprintf(&s, "certificate (%s, not valid until %s)", who,
		    date);
	} else {
		date = pki_cert_time(X509_get0_notAfter(x), 0);
		xasprintf(&s, "certificate (%s, %s %s)", who,
		    strcmp(v, "EXPIRED") == 0 ? "EXPIRED" : "expires", date);
	}
	free(date);
	free(who);
	return (s);
}

/* A short phrase for pki list saying what a file holds; never NULL. */
char *
pki_describe(const char *path)
{
	struct cert_file	 cf;
	struct cert_obj		*o;
	char			*cause = NULL, *s = NULL, *part, *v;
	int			 bundled = 0;

	if (cert_load(path, &cf, &cause) == -1) {
		free(cause);
		return (xstrdup("unknown"));
	}
	if (cf.p12) {
		pki_cert_clear(&cf);
		return (xstrdup("PKCS#12"));
	}
	TAILQ_FOREACH(o, &cf.objs, entry) {
		part = NULL;
		switch (o->type) {
		case CERT_X509:
			if (cf.n[CERT_X509] == 1)
				part = cert_describe_x509(o->x);
			else if (!bundled) {
				xasprintf(&part, "bundle of %d certificates",
				    cf.n[CERT_X509]);
				bundled = 1;
			}
			break;
		case CERT_REQ:
			v = pki_cert_namewho(X509_REQ_get_subject_name(o->req));
			xasprintf(&part, "CSR (%s)", v);
			free(v);
			break;
		case CERT_KEY:
			if (o->key == NULL)
				part = xstrdup("encrypted key");
			else {
				v = cert_keydesc(o->key);
				xasprintf(&part, "key (%s)", v);
				free(v);
			}
			break;
		}
		if (part != NULL)
			cert_join(&s, " and ", part);
		free(part);
	}
	pki_cert_clear(&cf);
	ERR_clear_error();
	return (s != NULL ? s : xstrdup("unknown"));
}

/* Print what a file holds, object by object, through cb. */
int
pki_inspect(const char *path, pki_line_cb cb, void *arg, char **cause)
{
	static const char *const what[CERT_NTYPES] = {
		NULL, "Certificate", "CSR", "Private key"
	};
	struct cert_file	 cf;
	struct cert_obj		*o;
	char			*line;
	int			 i[CERT_NTYPES] = { 0 };

	if (cert_load(path, &cf, cause) == -1)
		return (-1);
	if (cf.p12) {
		xasprintf(&line, "%s is a PKCS#12 archive (a key and "
		    "certificates under a passphrase); use pki pkcs12-to-pem "
		    "to unpack it", pki_cert_base(path));
		cb(arg, line);
		free(line);
	}
	TAILQ_FOREACH(o, &cf.objs, entry) {
		line = cert_head(what[o->type], ++i[o->type], cf.n[o->type]);
		cb(arg, line);
		free(line);
		switch (o->type) {
		case CERT_X509:
			cert_inspect_x509(o->x, cb, arg);
			break;
		case CERT_REQ:
			cert_inspect_req(o->req, cb, arg);
			break;
		case CERT_KEY:
			cert_inspect_key(o, cb, arg);
			break;
		}
	}
	pki_cert_clear(&cf);
	ERR_clear_error();
	return (0);
}

/* 1 if path holds an encrypted PEM private key, else 0. */
int
pki_is_encrypted_key(const char *path)
{
	struct cert_file	 cf;
	struct cert_obj		*o;
	char			*cause = NULL;
	int			 enc = 0;

	if (cert_load(path, &cf, &cause) == -1) {
		free(cause);
		return (0);
	}
	TAILQ_FOREACH(o, &cf.objs, entry) {
		if (cf.pem && o->type == CERT_KEY && o->encrypted)
			enc = 1;
	}
	pki_cert_clear(&cf);
	return (enc);
}

/*
 * Whether the first certificate of path covers the DNS name: 1 if it
 * does (a subjectAltName, a wildcard of one label, or the CN when there
 * are no DNS names), 0 if not, -1 with *cause if it cannot be read.
 */
int
pki_cert_covers(const char *path, const char *name, char **cause)
{
	STACK_OF(X509)	*sk;
	int		 rc;

	if ((sk = pki_cert_certs(path, 0, cause)) == NULL)
		return (-1);
	rc = X509_check_host(sk_X509_value(sk, 0), name, strlen(name), 0,
	    NULL);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	if (rc < 0) {
		xasprintf(cause, "%s: cannot check the name %s",
		    pki_cert_base(path), name);
		return (-1);
	}
	return (rc == 1);
}

/*
 * The DNS names of the first certificate of path (its subjectAltNames,
 * at most max, wildcards left out) in *names, which the caller frees
 * with each name. The count, or -1 with *cause.
 */
int
pki_cert_dns_names(const char *path, char ***names, int max, char **cause)
{
	STACK_OF(X509)		*sk;
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	char			*s;
	int			 i, n = 0;

	*names = NULL;
	if ((sk = pki_cert_certs(path, 0, cause)) == NULL)
		return (-1);
	gens = X509_get_ext_d2i(sk_X509_value(sk, 0), NID_subject_alt_name,
	    NULL, NULL);
	*names = xcalloc(max > 0 ? max : 1, sizeof(**names));
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && n < max;
	    i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		s = cert_asn1str(g->d.dNSName);
		if (*s == '\0' || strchr(s, '*') != NULL ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != strlen(s)) {
			free(s);
			continue;
		}
		(*names)[n++] = s;
	}
	GENERAL_NAMES_free(gens);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return (n);
}
