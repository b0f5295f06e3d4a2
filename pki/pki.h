/*
 * Keys, certificates and chains on OpenSSL. Every function that fails
 * sets *cause to an allocated one-line message the caller frees.
 */
#ifndef PKI_H
#define PKI_H

#include <time.h>

int	 pki_check_key(const char *, char **);
int	 pki_check_cert(const char *, char **);
int	 pki_check_bundle(const char *, int *, char **);
int	 pki_key_matches(const char *, const char *, char **);
int	 pki_verify(const char *, const char *, char **);
int	 pki_validity(const char *, time_t *, time_t *, char **);

#endif /* PKI_H */
