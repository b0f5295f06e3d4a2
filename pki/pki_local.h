/*
 * What pki_cert.c, pki_chain.c and pki_conv.c share: the whole-file
 * reader and decoder, the names used in messages, and the writer of new
 * files. Private to pki/; the public API is pki.h.
 */
#ifndef PKI_LOCAL_H
#define PKI_LOCAL_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* pki_cert.c */
#define CERT_X509	1
#define CERT_REQ	2
#define CERT_KEY	3
#define CERT_NTYPES	4

/* One object read from a file. */
struct cert_obj {
	int			 type;
	X509			*x;
	X509_REQ		*req;
	EVP_PKEY		*key;		/* NULL while encrypted */
	int			 encrypted;
	const char		*algo;		/* of an encrypted PEM key */
	TAILQ_ENTRY(cert_obj)	 entry;
};
TAILQ_HEAD(cert_objs, cert_obj);

/* What one file holds; pki_cert_clear frees its objects. */
struct cert_file {
	struct cert_objs	 objs;
	int			 n[CERT_NTYPES];	/* objects by type */
	int			 pem;
	int			 p12;
};

const char *pki_cert_base(const char *);
int	 pki_cert_read(const char *, unsigned char **, size_t *, char **);
int	 pki_cert_parse(const char *, const unsigned char *, size_t,
	    struct cert_file *, char **);
void	 pki_cert_clear(struct cert_file *);
STACK_OF(X509) *pki_cert_certs(const char *, int, char **);
char	*pki_cert_namewho(const X509_NAME *);
char	*pki_cert_who(X509 *);
char	*pki_cert_time(const ASN1_TIME *, int);

/* pki_conv.c */
int	 pki_conv_write_new(const char *, mode_t, BIO *, char **);

#endif /* PKI_LOCAL_H */
