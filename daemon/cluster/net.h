/*
 * Shared by the cluster port's files (net.c and the ones split from it),
 * uv.c (raft's transport registers its acceptor and dials through the
 * port), req.c and follower.c (cnet_warn, cnet_tls_clear) and the hello
 * parser's fuzz target.
 */
#ifndef CLUSTER_NET_H
#define CLUSTER_NET_H

#include <stdint.h>

struct bufferevent;
struct cnet_hello;

#define CNET_MAGIC	"MMPC1"	/* first word of every hello line */

/*
 * An acceptor that may refuse, and that closes what it took when the
 * port closes (raft's, in uv.c). take runs before the port answers the
 * hello: 0 when it took bev (its callbacks set, nothing written to it:
 * the port's OK goes first), or -1 with *why (a constant string) and bev
 * untouched, and the port refuses the channel with why. stop closes
 * every channel it took.
 */
struct cnet_taker {
	int	(*take)(struct bufferevent *, const struct cnet_hello *,
		    const char **);
	void	(*stop)(void);
};

/* hello.c */
int	 cnet_hello_parse(char *, struct cnet_hello *, int);
const char *cnet_kind_name(int);

/* net.c */
void	 cnet_dials_free(void);
void	 cnet_set_taker(int, const struct cnet_taker *);
void	 cnet_tls_clear(struct bufferevent *);
void	 cnet_warn(const char *, const char *, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));

#endif /* CLUSTER_NET_H */
