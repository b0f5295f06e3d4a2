/*
 * The key under which connections from one source are counted against a
 * per-address limit: an IPv4 address itself, an IPv6 address's /64.
 */
#ifndef ADDRKEY_H
#define ADDRKEY_H

#include <stddef.h>

#define ADDRKEY_LEN	64	/* room for any key, NUL included */

int	addrkey_make(const char *, char *, size_t);

#endif /* ADDRKEY_H */
