/*
 * Keys, CSRs, certificates, chains and bundles on OpenSSL 3: the library
 * behind the pki commands and the checks of xmpp certs and xmpp enable.
 * Every function that fails sets *cause to an allocated one-line message
 * the caller frees. Paths are full paths; messages name files by their
 * last component only. No function here touches the event loop, so any
 * of them may run in a worker thread.
 */
#ifndef PKI_H
#define PKI_H

#include <time.h>

typedef void (*pki_line_cb)(void *, const char *);
typedef void (*pki_progress_cb)(void *);

/* pki.c: checks used by xmpp certs and xmpp enable */
int	 pki_check_key(const char *, char **);
int	 pki_check_cert(const char *, char **);
int	 pki_check_bundle(const char *, int *, char **);
int	 pki_key_matches(const char *, const char *, char **);
int	 pki_validity(const char *, time_t *, time_t *, char **);
char	*pki_cert_names(const char *);

/* pki_attr.c: CN:<v> OU:<v> ... subjectAltName:<a>,<b> key:<t> days:<n> */
enum pki_keytype {
	PKI_KEY_RSA2048,
	PKI_KEY_RSA3072,
	PKI_KEY_RSA4096,
	PKI_KEY_EC256,
	PKI_KEY_EC384
};

#define PKI_ATTR_SUBJECT	0x01	/* CN OU O L ST C */
#define PKI_ATTR_SAN		0x02	/* subjectAltName */
#define PKI_ATTR_KEY		0x04	/* key */
#define PKI_ATTR_DAYS		0x08	/* days */
#define PKI_ATTR_CN_ONLY	0x10	/* of the subject, CN alone */

#define PKI_MAXSAN		100

struct pki_san {
	int	 ip;		/* 1: IP address, 0: DNS name */
	char	*value;
};

struct pki_attrs {
	char			*cn;
	char			*ou;
	char			*o;
	char			*l;
	char			*st;
	char			*c;
	struct pki_san		 san[PKI_MAXSAN];
	int			 nsan;
	int			 cn_added;	/* CN was added to the SANs */
	enum pki_keytype	 key;
	int			 days;
};

int	 pki_attrs_parse(int, const char **, int, struct pki_attrs *,
	    char **);
void	 pki_attrs_clear(struct pki_attrs *);
const char *pki_keytype_name(enum pki_keytype);

/* pki_gen.c: keys, CSRs, self-signed and CA-signed certificates */
#define PKI_MAKE_CSR		0
#define PKI_MAKE_SELFSIGNED	1
#define PKI_MAKE_CA		2

int	 pki_make(const struct pki_attrs *, int, int, int, pki_progress_cb,
	    void *, char **);
int	 pki_ca_sign(const char *, const char *, const char *, int, int,
	    char **);

/* pki_cert.c, pki_chain.c, pki_conv.c: looking at, checking and converting
 * what admins upload */
char	*pki_describe(const char *);
int	 pki_inspect(const char *, pki_line_cb, void *, char **);
int	 pki_verify_chain(const char *, const char *, const char *, char **);
int	 pki_unlock(const char *, const char *, char **);
int	 pki_p12_to_pem(const char *, const char *, const char *,
	    const char *, const char *, int *, char **);
int	 pki_bundle(const char *, const char **, int, int, char **);
int	 pki_is_encrypted_key(const char *);
int	 pki_cert_covers(const char *, const char *, char **);
int	 pki_cert_dns_names(const char *, char ***, int, char **);

#endif /* PKI_H */
