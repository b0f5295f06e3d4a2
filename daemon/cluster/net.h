/*
 * Shared by cluster_net.c and cluster_uv.c (the port hands accepted raft
 * channels to the transport, which dials through the port), cluster_req.c
 * (cnet_warn) and the hello parser's fuzz target.
 */
#ifndef CLUSTER_NET_H
#define CLUSTER_NET_H

#include <stdint.h>

struct bufferevent;
struct cnet_hello;
struct uv_stream_s;

#define CNET_MAGIC	"MMPC1"	/* first word of every hello line */

/* cluster_hello.c */
int	 cnet_hello_parse(char *, struct cnet_hello *, int);
const char *cnet_kind_name(int);

/* cluster_net.c */
void	 cnet_dials_free(void);
void	 cnet_tls_clear(struct bufferevent *);
void	 cnet_warn(const char *, const char *, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));

/* cluster_uv.c */
int	 cuv_proxy_new(struct bufferevent *, uint64_t, const char *,
	    const char *, struct uv_stream_s **);
void	 cuv_proxies_free(void);
int	 cuv_raft_accepting(void);
void	 cuv_raft_accepted(uint64_t, const char *, struct uv_stream_s *);

#endif /* CLUSTER_NET_H */
