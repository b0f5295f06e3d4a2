/*
 * The hello line that opens every channel on the cluster port, as read
 * from the network: parsed here, alone, so that a fuzz target can link
 * it without the rest of the daemon (tests/fuzz/fuzz_hello.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "cluster/cluster.h"
#include "cluster/net.h"

static int	 cnet_kind(const char *);
static int	 cnet_token(const char *);

/* The hello word of a channel kind. */
const char *
cnet_kind_name(int kind)
{
	switch (kind) {
	case CN_RAFT:
		return ("raft");
	case CN_FWD:
		return ("fwd");
	case CN_REQ:
		return ("req");
	}
	return ("?");
}

/* The channel kind of a hello word, 0 if none. */
static int
cnet_kind(const char *s)
{
	if (strcmp(s, "raft") == 0)
		return (CN_RAFT);
	if (strcmp(s, "fwd") == 0)
		return (CN_FWD);
	if (strcmp(s, "req") == 0)
		return (CN_REQ);
	return (0);
}

/* Whether s is a non-empty run of printable ASCII without spaces. */
static int
cnet_token(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return (0);
	return (1);
}

/*
 * Parse a hello "MMPC1 <kind> <id> <addr> <domain>" or, with answer set,
 * "MMPC1 OK <id> <addr> <domain>" (h->kind left alone). A domain of "-"
 * is none. -1 if malformed; line (NUL-terminated, from the network) is
 * cut up. Only the line is read: h's identity fields are left alone.
 */
int
cnet_hello_parse(char *line, struct cnet_hello *h, int answer)
{
	char		*f[5], *p = line;
	size_t		 n;

	for (n = 0; n < nitems(f) && p != NULL; n++)
		f[n] = strsep(&p, " ");
	if (n != nitems(f) || p != NULL || strcmp(f[0], CNET_MAGIC) != 0)
		return (-1);
	if (answer) {
		if (strcmp(f[1], "OK") != 0)
			return (-1);
	} else if ((h->kind = cnet_kind(f[1])) == 0)
		return (-1);
	if (strlen(f[2]) != 16 || strspn(f[2], "0123456789abcdefABCDEF") !=
	    16)
		return (-1);
	h->id = strtoull(f[2], NULL, 16);
	if (!cnet_token(f[3]) || !cnet_token(f[4]) ||
	    strlcpy(h->addr, f[3], sizeof(h->addr)) >= sizeof(h->addr) ||
	    strlcpy(h->domain, f[4], sizeof(h->domain)) >= sizeof(h->domain))
		return (-1);
	if (strcmp(h->domain, "-") == 0)
		h->domain[0] = '\0';
	return (0);
}
