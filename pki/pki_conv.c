/*
 * Converting what admins upload: unlocking an encrypted private key in
 * place and unpacking PKCS#12 archives into PEM files, and the writer of
 * new files that pki_bundle uses too. Nothing here overwrites a file it
 * did not mean to replace, and an error leaves nothing behind.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "pki_local.h"
#include "xmalloc.h"

static int	 conv_givepass(char *, int, int, void *);
static int	 conv_create(const char *, mode_t, char **);
static int	 conv_put(int, const char *, BIO *, char **);
static void	 conv_syncdir(const char *);
static STACK_OF(X509) *conv_p12_chain(X509 *, STACK_OF(X509) *);

/* Passphrase callback handing over the string u points to. */
static int
conv_givepass(char *buf, int size, int rwflag, void *u)
{
	const char	*pass = *(const char **)u;
	size_t		 len = strlen(pass);

	(void)rwflag;
	if (size <= 0 || len >= (size_t)size)
		return (-1);
	memcpy(buf, pass, len);
	return ((int)len);
}

/* Create a new file with exactly mode; never replace one. */
static int
conv_create(const char *path, mode_t mode, char **cause)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1) {
		if (errno == EEXIST)
			xasprintf(cause, "%s already exists",
			    pki_cert_base(path));
		else
			xasprintf(cause, "%s: cannot create: %s",
			    pki_cert_base(path), strerror(errno));
		return (-1);
	}
	if (fchmod(fd, mode) == -1) {
		xasprintf(cause, "%s: cannot set its mode: %s",
		    pki_cert_base(path), strerror(errno));
		close(fd);
		unlink(path);
		return (-1);
	}
	return (fd);
}

/* Write the contents of a memory BIO to fd and sync it. */
static int
conv_put(int fd, const char *path, BIO *b, char **cause)
{
	char	*p;
	long	 len;
	ssize_t	 w;

	if ((len = BIO_get_mem_data(b, &p)) < 0)
		len = 0;
	while (len > 0) {
		if ((w = write(fd, p, (size_t)len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		len -= w;
	}
	if (fsync(fd) == -1)
		goto fail;
	return (0);
fail:
	xasprintf(cause, "%s: cannot write: %s", pki_cert_base(path),
	    strerror(errno));
	return (-1);
}

/* Sync the directory holding path, so that a new name survives a crash. */
static void
conv_syncdir(const char *path)
{
	const char	*b = pki_cert_base(path);
	char		*dir;
	int		 fd;

	if (b == path)
		dir = xstrdup(".");
	else
		dir = xstrndup(path, b - path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Create path with mode, write b into it; nothing is left on error. */
int
pki_conv_write_new(const char *path, mode_t mode, BIO *b, char **cause)
{
	int	 fd;

	if ((fd = conv_create(path, mode, cause)) == -1)
		return (-1);
	if (conv_put(fd, path, b, cause) == -1) {
		close(fd);
		unlink(path);
		return (-1);
	}
	if (close(fd) == -1) {
		xasprintf(cause, "%s: cannot write: %s", pki_cert_base(path),
		    strerror(errno));
		unlink(path);
		return (-1);
	}
	conv_syncdir(path);
	return (0);
}

/*
 * Decrypt the PEM private key in path with pass and rewrite the file in
 * place as unencrypted PKCS#8, mode 0600, through a temporary file in the
 * same directory that is renamed over it.
 */
int
pki_unlock(const char *path, const char *pass, char **cause)
{
	struct cert_file	 cf;
	struct cert_obj		*o;
	unsigned char		*buf = NULL;
	size_t			 len = 0;
	BIO			*in = NULL, *mem = NULL;
	EVP_PKEY		*key = NULL;
	const char		*b = pki_cert_base(path);
	char			*tmp = NULL;
	int			 fd = -1, loaded = 0, rc = -1;

	if (pki_cert_read(path, &buf, &len, cause) == -1)
		goto out;
	if (pki_cert_parse(path, buf, len, &cf, cause) == -1)
		goto out;
	loaded = 1;
	o = TAILQ_FIRST(&cf.objs);
	if (!cf.pem || cf.n[CERT_KEY] == 0) {
		xasprintf(cause, "%s: not a PEM private key", b);
		goto out;
	}
	if (cf.n[CERT_KEY] != 1 || cf.n[CERT_X509] != 0 ||
	    cf.n[CERT_REQ] != 0) {
		xasprintf(cause, "%s holds more than the private key; unlock "
		    "works on a file with the key alone", b);
		goto out;
	}
	if (!o->encrypted) {
		xasprintf(cause, "%s: the key is not encrypted", b);
		goto out;
	}
	if ((in = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (mem = BIO_new(BIO_s_secmem())) == NULL) {
		xasprintf(cause, "%s: out of memory", b);
		goto out;
	}
	if ((key = PEM_read_bio_PrivateKey(in, NULL, conv_givepass,
	    (void *)&pass)) == NULL) {
		xasprintf(cause, "%s: wrong passphrase", b);
		goto out;
	}
	if (!PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
		xasprintf(cause, "%s: cannot encode the key", b);
		goto out;
	}

	xasprintf(&tmp, "%.*s.%s.XXXXXX", (int)(b - path), path, b);
	if ((fd = mkstemp(tmp)) == -1) {
		xasprintf(cause, "%s: cannot create a temporary file: %s", b,
		    strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0600) == -1) {
		xasprintf(cause, "%s: cannot set its mode: %s", b,
		    strerror(errno));
		goto out;
	}
	if (conv_put(fd, tmp, mem, cause) == -1)
		goto out;
	if (close(fd) == -1) {
		fd = -1;
		xasprintf(cause, "%s: cannot write: %s", b, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		xasprintf(cause, "%s: cannot replace it: %s", b,
		    strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	conv_syncdir(path);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	if (loaded)
		pki_cert_clear(&cf);
	EVP_PKEY_free(key);
	BIO_free(mem);
	BIO_free(in);
	free(buf);
	ERR_clear_error();
	return (rc);
}

/*
 * The CA certificates of an archive ordered leaf-first, root-last as far
 * as they chain from the leaf, then the rest in archive order. The stack
 * borrows the certificates of ca.
 */
static STACK_OF(X509) *
conv_p12_chain(X509 *leaf, STACK_OF(X509) *ca)
{
	STACK_OF(X509)	*rest = NULL, *out = NULL;
	X509		*cur = leaf, *c;
	int		 i, found;

	if ((out = sk_X509_new_null()) == NULL ||
	    (rest = (ca != NULL ? sk_X509_dup(ca) : sk_X509_new_null())) ==
	    NULL) {
		sk_X509_free(out);
		return (NULL);
	}
	do {
		found = 0;
		for (i = 0; i < sk_X509_num(rest); i++) {
			c = sk_X509_value(rest, i);
			if (X509_check_issued(c, cur) == X509_V_OK) {
				(void)sk_X509_delete(rest, i);
				sk_X509_push(out, c);
				cur = c;
				found = 1;
				break;
			}
		}
	} while (found);
	for (i = 0; i < sk_X509_num(rest); i++)
		sk_X509_push(out, sk_X509_value(rest, i));
	sk_X509_free(rest);
	return (out);
}

/*
 * Unpack a PKCS#12 archive into a key (0600), its certificate (0644) and,
 * if the archive holds CA certificates, a chain file (0644). Every output
 * is new: nothing is overwritten, and on error nothing is left behind.
 *
 * OpenSSL 3 keeps RC2 and the other ciphers of archives from older tools
 * in the legacy provider. Loading it into the default library context
 * would change what every other part of the daemon may use, so when an
 * archive whose MAC checks out does not decrypt, we retry in a private
 * library context with the default and legacy providers, set as this
 * thread's default for the call only. Without the legacy provider such
 * archives are refused with a message saying to export them with AES.
 */
int
pki_p12_to_pem(const char *p12path, const char *pass, const char *keypath,
    const char *crtpath, const char *chainpath, int *haschain, char **cause)
{
	unsigned char		*buf = NULL;
	const unsigned char	*p;
	size_t			 len;
	PKCS12			*p12 = NULL;
	EVP_PKEY		*key = NULL;
	X509			*x = NULL;
	STACK_OF(X509)		*ca = NULL, *chain = NULL;
	OSSL_LIB_CTX		*lctx = NULL, *prev = NULL;
	OSSL_PROVIDER		*pdef = NULL, *pleg = NULL;
	BIO			*bio[3] = { NULL, NULL, NULL };
	const char		*path[3], *pw = pass;
	const char		*b = pki_cert_base(p12path);
	mode_t			 mode[3] = { 0600, 0644, 0644 };
	int			 fd[3] = { -1, -1, -1 }, made[3] = { 0, 0, 0 };
	int			 i, mac, swapped = 0, rc = -1;

	*haschain = 0;
	path[0] = keypath;
	path[1] = crtpath;
	path[2] = chainpath;
	if (pki_cert_read(p12path, &buf, &len, cause) == -1)
		goto out;
	p = buf;
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL ||
	    p != buf + len) {
		xasprintf(cause, "%s: not a PKCS#12 file", b);
		goto out;
	}
	if ((mac = PKCS12_mac_present(p12)) &&
	    !PKCS12_verify_mac(p12, pw, -1)) {
		/* An empty passphrase may mean "no password" to the tool. */
		if (*pw == '\0' && PKCS12_verify_mac(p12, NULL, 0))
			pw = NULL;
		else {
			xasprintf(cause, "%s: wrong passphrase", b);
			goto out;
		}
	}
	if (!PKCS12_parse(p12, pw, &key, &x, &ca)) {
		ERR_clear_error();
		if ((lctx = OSSL_LIB_CTX_new()) == NULL ||
		    (pdef = OSSL_PROVIDER_load(lctx, "default")) == NULL ||
		    (pleg = OSSL_PROVIDER_load(lctx, "legacy")) == NULL) {
			if (mac)
				xasprintf(cause, "%s uses legacy encryption "
				    "(such as RC2) that this system cannot "
				    "read; export it again with AES", b);
			else
				xasprintf(cause, "%s: wrong passphrase", b);
			goto out;
		}
		prev = OSSL_LIB_CTX_set0_default(lctx);
		swapped = 1;
		PKCS12_free(p12);
		p = buf;
		if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL ||
		    !PKCS12_parse(p12, pw, &key, &x, &ca)) {
			if (mac)
				xasprintf(cause, "%s: cannot decrypt its "
				    "contents", b);
			else
				xasprintf(cause, "%s: wrong passphrase", b);
			goto out;
		}
	}
	if (key == NULL) {
		xasprintf(cause, "%s holds no private key", b);
		goto out;
	}
	if (x == NULL) {
		xasprintf(cause, "%s holds no certificate for its key", b);
		goto out;
	}
	if ((chain = conv_p12_chain(x, ca)) == NULL ||
	    (bio[0] = BIO_new(BIO_s_secmem())) == NULL ||
	    (bio[1] = BIO_new(BIO_s_mem())) == NULL ||
	    (bio[2] = BIO_new(BIO_s_mem())) == NULL) {
		xasprintf(cause, "%s: out of memory", b);
		goto out;
	}
	if (!PEM_write_bio_PrivateKey(bio[0], key, NULL, NULL, 0, NULL,
	    NULL) || !PEM_write_bio_X509(bio[1], x)) {
		xasprintf(cause, "%s: cannot encode its contents", b);
		goto out;
	}
	for (i = 0; i < sk_X509_num(chain); i++) {
		if (!PEM_write_bio_X509(bio[2], sk_X509_value(chain, i))) {
			xasprintf(cause, "%s: cannot encode its contents", b);
			goto out;
		}
	}
	if (sk_X509_num(chain) == 0 || chainpath == NULL)
		path[2] = NULL;

	/* Create every output before writing any, so a clash costs nothing. */
	for (i = 0; i < 3; i++) {
		if (path[i] == NULL)
			continue;
		if ((fd[i] = conv_create(path[i], mode[i], cause)) == -1)
			goto out;
		made[i] = 1;
	}
	for (i = 0; i < 3; i++) {
		if (path[i] == NULL)
			continue;
		if (conv_put(fd[i], path[i], bio[i], cause) == -1)
			goto out;
		if (close(fd[i]) == -1) {
			fd[i] = -1;
			xasprintf(cause, "%s: cannot write: %s",
			    pki_cert_base(path[i]), strerror(errno));
			goto out;
		}
		fd[i] = -1;
	}
	conv_syncdir(keypath);
	*haschain = path[2] != NULL;
	rc = 0;
out:
	for (i = 0; i < 3; i++) {
		if (fd[i] != -1)
			close(fd[i]);
		if (rc == -1 && made[i])
			unlink(path[i]);
		BIO_free(bio[i]);
	}
	sk_X509_free(chain);
	sk_X509_pop_free(ca, X509_free);
	X509_free(x);
	EVP_PKEY_free(key);
	PKCS12_free(p12);
	if (swapped)
		OSSL_LIB_CTX_set0_default(prev);
	OSSL_PROVIDER_unload(pleg);
	OSSL_PROVIDER_unload(pdef);
	OSSL_LIB_CTX_free(lctx);
	free(buf);
	ERR_clear_error();
	return (rc);
}
