/*
 * Fuzz target: the control protocol's framing (common/msg.c), as mmpd
 * reads what a local user's program writes to the control socket and as
 * mmp reads what it takes for mmpd.
 *
 * Input: the bytes of a connection, frames back to back, read as
 * control_read and client.c do: a header, then its payload when all of it
 * is there, decoded by the layout of its type (common/proto.h).
 *
 * Invariants: a header parses only within the limits it promises; a
 * payload that decodes exactly (msg_end) is built again byte for byte by
 * msg_new, the puts and msg_finish; a reader never reads past the payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "msg.h"

#define FM_MAXARGS	256	/* argc beyond this is refused, as by mmpd */

static void	 fm_frame(const struct msg_hdr *, const uint8_t *);
static void	 fm_same(struct msg *, const struct msg_hdr *,
		    const uint8_t *);

/* What we built from a decoded payload is the frame we were given. */
static void
fm_same(struct msg *m, const struct msg_hdr *hdr, const uint8_t *frame)
{
	FUZZ_ASSERT(msg_finish(m) == 0);
	FUZZ_ASSERT(m->len == MSG_HDRLEN + hdr->len);
	FUZZ_ASSERT(memcmp(m->buf, frame, m->len) == 0);
	msg_free(m);
}

/* Decode one whole frame (header and payload at frame) by its type. */
static void
fm_frame(const struct msg_hdr *hdr, const uint8_t *frame)
{
	struct msg	 r, *m;
	const char	*s, *argv[FM_MAXARGS];
	uint32_t	 argc, u32, i;
	uint8_t		 u8;

	msg_reader(&r, hdr, frame + MSG_HDRLEN);
	m = msg_new(hdr->type, hdr->id);
	switch (hdr->type) {
	case MSG_CMD:
		if (msg_get_u32(&r, &argc) == -1 || argc > FM_MAXARGS)
			break;
		for (i = 0; i < argc; i++)
			if (msg_get_str(&r, &argv[i]) == -1)
				break;
		if (!msg_end(&r))
			break;
		msg_put_u32(m, argc);
		for (i = 0; i < argc; i++)
			msg_put_str(m, argv[i]);
		fm_same(m, hdr, frame);
		return;
	case MSG_OUT:
	case MSG_ERR:
	case MSG_INPUT:
	case MSG_PART:
		if (msg_get_str(&r, &s) == -1 || !msg_end(&r))
			break;
		msg_put_str(m, s);
		fm_same(m, hdr, frame);
		return;
	case MSG_PROMPT:
		if (msg_get_u8(&r, &u8) == -1 || msg_get_str(&r, &s) == -1 ||
		    !msg_end(&r))
			break;
		msg_put_u8(m, u8);
		msg_put_str(m, s);
		fm_same(m, hdr, frame);
		return;
	case MSG_DONE:
		if (msg_get_u32(&r, &u32) == -1 || !msg_end(&r))
			break;
		(void)proto_result_str(u32);
		(void)proto_result_status(u32);
		msg_put_u32(m, u32);
		fm_same(m, hdr, frame);
		return;
	}
	/* Refused: the reader stopped inside the payload. */
	FUZZ_ASSERT(r.off <= r.len);
	msg_free(m);
}

/* One input: see the comment at the top. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_hdr	 hdr;
	int		 rc;

	while (size > 0) {
		rc = msg_parse_hdr(data, size, &hdr);
		if (rc == MSG_PARSE_SHORT) {
			FUZZ_ASSERT(size < MSG_HDRLEN);
			break;
		}
		if (rc != MSG_PARSE_OK) {
			/* mmpd closes the connection here. */
			FUZZ_ASSERT(rc == MSG_PARSE_VERSION ||
			    rc == MSG_PARSE_TOOBIG || rc == MSG_PARSE_TYPE);
			break;
		}
		FUZZ_ASSERT(hdr.len <= MSG_MAXPAYLOAD);
		FUZZ_ASSERT(hdr.type > 0 && hdr.type < MSG__MAX);
		if (size - MSG_HDRLEN < hdr.len)
			break;		/* waits for the rest */
		fm_frame(&hdr, data);
		data += MSG_HDRLEN + hdr.len;
		size -= MSG_HDRLEN + hdr.len;
	}
	return (0);
}
