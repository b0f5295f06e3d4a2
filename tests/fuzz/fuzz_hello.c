/*
 * Fuzz target: the hello line that opens every channel on the cluster
 * port (daemon/cluster/hello.c), as read before TLS has told us anything
 * about the peer but its certificate.
 *
 * Input: byte 0 bit 0 says whether the line is read as an answer to our
 * hello ("MMPC1 OK ..."); the rest, up to a NUL or newline, is the line.
 *
 * Invariants: a line that parses gives a known kind (unless an answer),
 * an address and a domain within their buffers and made only of printable
 * ASCII without spaces; written out again the way cluster_net.c writes a
 * hello, it parses to the same fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/net.h"
#include "fuzz.h"

static void	 fh_check(const struct cnet_hello *, int);

/* The fields of a parsed hello are what a parse promises. */
static void
fh_check(const struct cnet_hello *h, int answer)
{
	const char	*s;

	if (!answer)
		FUZZ_ASSERT(h->kind == CN_RAFT || h->kind == CN_FWD ||
		    h->kind == CN_REQ);
	FUZZ_ASSERT(memchr(h->addr, '\0', sizeof(h->addr)) != NULL);
	FUZZ_ASSERT(memchr(h->domain, '\0', sizeof(h->domain)) != NULL);
	FUZZ_ASSERT(h->addr[0] != '\0');
	for (s = h->addr; *s != '\0'; s++)
		FUZZ_ASSERT(*s > ' ' && *s <= '~');
	for (s = h->domain; *s != '\0'; s++)
		FUZZ_ASSERT(*s > ' ' && *s <= '~');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnet_hello	 h, again;
	char			*line, *out;
	size_t			 n;
	int			 answer, len;

	if (size < 1)
		return (0);
	answer = data[0] & 1;
	data++;
	size--;
	for (n = 0; n < size && data[n] != '\0' && data[n] != '\n'; n++)
		;
	if ((line = malloc(n + 1)) == NULL)
		abort();
	memcpy(line, data, n);
	line[n] = '\0';
	memset(&h, 0, sizeof(h));
	if (cnet_hello_parse(line, &h, answer) == 0) {
		fh_check(&h, answer);
		len = asprintf(&out, "%s %s %016llx %s %s", CNET_MAGIC,
		    answer ? "OK" : cnet_kind_name(h.kind),
		    (unsigned long long)h.id, h.addr,
		    h.domain[0] != '\0' ? h.domain : "-");
		FUZZ_ASSERT(len > 0);
		memset(&again, 0, sizeof(again));
		FUZZ_ASSERT(cnet_hello_parse(out, &again, answer) == 0);
		FUZZ_ASSERT(again.kind == h.kind && again.id == h.id);
		FUZZ_ASSERT(strcmp(again.addr, h.addr) == 0);
		FUZZ_ASSERT(strcmp(again.domain, h.domain) == 0);
		free(out);
	}
	free(line);
	return (0);
}
