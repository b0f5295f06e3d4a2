/*
 * Framing of control messages with bounds-checked put/get helpers.
 */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct msg_hdr {
	uint16_t	 type;
	uint16_t	 version;
	uint32_t	 len;
	uint32_t	 id;
};

/* Results of msg_parse_hdr. */
#define MSG_PARSE_OK		0
#define MSG_PARSE_SHORT		1	/* need more bytes */
#define MSG_PARSE_VERSION	2	/* other protocol version */
#define MSG_PARSE_TOOBIG	3	/* payload over MSG_MAXPAYLOAD */
#define MSG_PARSE_TYPE		4	/* unknown message type */

/*
 * An outgoing message under construction, or an incoming payload being
 * read. msg_free releases what msg_new allocated.
 */
struct msg {
	struct msg_hdr	 hdr;
	uint8_t		*buf;		/* header + payload when building */
	size_t		 len;
	size_t		 cap;
	size_t		 off;		/* read position in a payload */
	int		 error;		/* a put overflowed or a get failed */
};

int		 msg_parse_hdr(const uint8_t *, size_t, struct msg_hdr *);

struct msg	*msg_new(uint16_t, uint32_t);
void		 msg_free(struct msg *);
void		 msg_put_u8(struct msg *, uint8_t);
void		 msg_put_u32(struct msg *, uint32_t);
void		 msg_put_str(struct msg *, const char *);
int		 msg_finish(struct msg *);

void		 msg_reader(struct msg *, const struct msg_hdr *,
		    const uint8_t *);
int		 msg_get_u8(struct msg *, uint8_t *);
int		 msg_get_u32(struct msg *, uint32_t *);
int		 msg_get_str(struct msg *, const char **);
int		 msg_end(const struct msg *);

#endif /* MSG_H */
