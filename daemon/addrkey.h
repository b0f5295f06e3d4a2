/*
 * Addresses as text: the key under which connections from one source are
 * counted against a per-address limit (an IPv4 address itself, an IPv6
 * address's /64), and the numeric host of an interface's address.
 */
#ifndef ADDRKEY_H
#define ADDRKEY_H

#include <stddef.h>

#define ADDRKEY_LEN	64	/* room for any key, NUL included */

struct sockaddr;

int	addrkey_make(const char *, char *, size_t);
int	addrkey_numeric(const struct sockaddr *, char *, size_t);

#endif /* ADDRKEY_H */
