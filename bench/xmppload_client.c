/*
 * xmppload: the client and component protocols: STARTTLS, SASL (PLAIN,
 * SCRAM), bind, messages, the XEP-0114 handshake.
 */
#include "xmppload.h"

static void	 client_sync(struct sess *);

/* Switch to TLS after <proceed/>: the socket gets an OpenSSL bufferevent. */
int
client_starttls(struct sess *s)
{
	SSL	*ssl;

	if ((ssl = SSL_new(xl.ctx)) == NULL) {
		sess_fail(s, "TLS", "SSL_new failed");
		return (P_STOP);
	}
	SSL_set_tlsext_host_name(ssl, xl.domain);
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(xl.base, s->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	s->state = S_TLS;
	sess_reset(s);
	if (s->bev == NULL) {
		SSL_free(ssl);
		sess_fail(s, "TLS", "no bufferevent");
		return (P_STOP);
	}
	s->ownfd = 0;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, sess_read, NULL, sess_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return (P_STOP);
}

/* Start SASL with the chosen mechanism (or register, with -A). */
void
client_auth(struct sess *s)
{
	char		 user[32], pass[32], buf[256];
	unsigned char	 raw[128], r[12];
	char		*b64;
	size_t		 i;
	int		 n;

	snprintf(user, sizeof(user), "user%d", s->acct);
	snprintf(pass, sizeof(pass), "pass%d", s->acct);
	if (xl.reg) {
		s->state = S_REG;
		sess_printf(s, "<iq type='set' id='reg'><query xmlns='"
		    "jabber:iq:register'><username>%s</username><password>"
		    "%s</password></query></iq>", user, pass);
		return;
	}
	s->state = S_SASL;
	if (xl.mech == MECH_PLAIN) {
		n = snprintf((char *)raw, sizeof(raw), "%c%s%c%s", 0, user, 0,
		    pass);
		b64 = b64_enc(raw, n);
		sess_printf(s, "<auth xmlns='" NS_SASL "' mechanism='PLAIN'>"
		    "%s</auth>", b64);
		free(b64);
		return;
	}
	if (RAND_bytes(r, sizeof(r)) != 1)
		fatalx("no randomness");
	for (i = 0; i < sizeof(r); i++)
		snprintf(s->cnonce + 2 * i, 3, "%02x", r[i]);
	n = snprintf(buf, sizeof(buf), "n=%s,r=%s", user, s->cnonce);
	free(s->cfirst);
	if ((s->cfirst = strdup(buf)) == NULL)
		fatalx("out of memory");
	n = snprintf((char *)raw, sizeof(raw), "n,,%s", s->cfirst);
	b64 = b64_enc(raw, n);
	sess_printf(s, "<auth xmlns='" NS_SASL "' mechanism='%s'>%s</auth>",
	    xl.mech == MECH_SHA1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256", b64);
	free(b64);
}

/*
 * SCRAM (RFC 5802): the server-first message. Answer with the proof and
 * keep the server signature that the final message must carry.
 */
int
client_challenge(struct sess *s, const char *p, size_t n)
{
	const EVP_MD	*md = xl.mech == MECH_SHA1 ? EVP_sha1() :
			    EVP_sha256();
	const char	*t, *nonce = NULL, *salt = NULL, *iter = NULL, *f;
	unsigned char	*sf = NULL, *saltb = NULL;
	unsigned char	 ck[EVP_MAX_MD_SIZE], sk[EVP_MAX_MD_SIZE];
	unsigned char	 stored[EVP_MAX_MD_SIZE], sig[EVP_MAX_MD_SIZE];
	unsigned char	 proof[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = EVP_MD_size(md), l;
	size_t		 tl, sfl, saltl, i, noncel = 0;
	char		 pass[32], *auth = NULL, *final = NULL, *b64 = NULL;
	char		*pb = NULL;
	struct cred	*c = &xl.creds[s->acct - xl.first];
	int		 it, rc = P_STOP;

	if (s->cfirst == NULL) {
		/* A challenge after the proof: the server-final message. */
		if (client_success(s, p, n) == P_STOP)
			return (P_STOP);
		sess_printf(s, "<response xmlns='" NS_SASL "'/>");
		return (P_CONT);
	}
	if (elem_text(p, n, NULL, &t, &tl) == -1 ||
	    b64_dec(t, tl, &sf, &sfl) == -1) {
		sess_fail(s, "SCRAM", "bad challenge encoding");
		return (P_STOP);
	}
	for (f = (char *)sf; f < (char *)sf + sfl; f = strchr(f, ',') + 1) {
		if (strncmp(f, "r=", 2) == 0) {
			nonce = f + 2;
			noncel = strcspn(nonce, ",");
		} else if (strncmp(f, "s=", 2) == 0)
			salt = f + 2;
		else if (strncmp(f, "i=", 2) == 0)
			iter = f + 2;
		if (strchr(f, ',') == NULL)
			break;
	}
	if (nonce == NULL || salt == NULL || iter == NULL ||
	    noncel <= strlen(s->cnonce) ||
	    strncmp(nonce, s->cnonce, strlen(s->cnonce)) != 0 ||
	    (it = atoi(iter)) < 1 || it > 1000000 ||
	    b64_dec(salt, strcspn(salt, ","), &saltb, &saltl) == -1) {
		sess_fail(s, "SCRAM", "bad server-first message");
		goto out;
	}
	snprintf(pass, sizeof(pass), "pass%d", s->acct);
	if (c->salt == NULL || c->iter != it || strncmp(c->salt, salt,
	    strcspn(salt, ",")) != 0 || c->salt[strcspn(salt, ",")] != '\0') {
		free(c->salt);
		c->salt = strndup(salt, strcspn(salt, ","));
		c->iter = it;
		if (PKCS5_PBKDF2_HMAC(pass, strlen(pass), saltb, saltl, it, md,
		    mdlen, c->salted) != 1)
			fatalx("PBKDF2 failed");
	}
	HMAC(md, c->salted, mdlen, (const unsigned char *)"Client Key", 10,
	    ck, &l);
	EVP_Digest(ck, mdlen, stored, &l, md, NULL);
	HMAC(md, c->salted, mdlen, (const unsigned char *)"Server Key", 10,
	    sk, &l);
	if (asprintf(&final, "c=biws,r=%.*s", (int)noncel, nonce) == -1 ||
	    asprintf(&auth, "%s,%.*s,%s", s->cfirst, (int)sfl, (char *)sf,
	    final) == -1)
		fatalx("out of memory");
	HMAC(md, stored, mdlen, (unsigned char *)auth, strlen(auth), sig, &l);
	for (i = 0; i < mdlen; i++)
		proof[i] = ck[i] ^ sig[i];
	HMAC(md, sk, mdlen, (unsigned char *)auth, strlen(auth), s->ssig,
	    &s->ssiglen);
	pb = b64_enc(proof, mdlen);
	free(auth);
	if (asprintf(&auth, "%s,p=%s", final, pb) == -1)
		fatalx("out of memory");
	b64 = b64_enc((unsigned char *)auth, strlen(auth));
	sess_printf(s, "<response xmlns='" NS_SASL "'>%s</response>", b64);
	free(s->cfirst);
	s->cfirst = NULL;
	rc = P_CONT;
out:
	explicit_bzero(ck, sizeof(ck));
	free(sf);
	free(saltb);
	free(auth);
	free(final);
	free(pb);
	free(b64);
	return (rc);
}

/*
 * <success/>, or a server-final challenge: for SCRAM, the server's
 * signature must be there (now or before) and must match.
 */
int
client_success(struct sess *s, const char *p, size_t n)
{
	const char	*t;
	unsigned char	*raw = NULL, *v = NULL;
	size_t		 tl, rl, vl;

	if (xl.mech == MECH_PLAIN || s->verified)
		return (P_CONT);
	if (elem_text(p, n, NULL, &t, &tl) == -1 || tl == 0 ||
	    (tl == 1 && *t == '=')) {
		sess_fail(s, "SCRAM", "no server signature");
		return (P_STOP);
	}
	if (b64_dec(t, tl, &raw, &rl) == -1 || rl < 3 ||
	    strncmp((char *)raw, "v=", 2) != 0 ||
	    b64_dec((char *)raw + 2, strcspn((char *)raw + 2, ","), &v,
	    &vl) == -1 || vl != s->ssiglen ||
	    CRYPTO_memcmp(v, s->ssig, vl) != 0) {
		free(raw);
		free(v);
		sess_fail(s, "SCRAM", "server signature does not verify");
		return (P_STOP);
	}
	free(raw);
	free(v);
	s->verified = 1;
	return (P_CONT);
}

/* A message to a logged-in session: ours carry the step and send time. */
void
client_message(struct sess *s, const char *p, size_t n)
{
	struct step		*st;
	char			 type[16], cond[64], body[64];
	const char		*t;
	size_t			 tl;
	int			 step;
	unsigned long long	 sent;
	uint64_t		 now, lat;
	uint32_t		*nl;

	(void)s;
	if (elem_attr(p, n, "type", type, sizeof(type)) == 0 &&
	    strcmp(type, "error") == 0) {
		if (xl.cur < xl.nrates && !xl.steps[xl.cur].done)
			xl.steps[xl.cur].errors++;
		reason_add("message bounced", stanza_error(p, n, cond,
		    sizeof(cond)));
		return;
	}
	/* The text is not NUL-terminated where it lies. */
	if (elem_text(p, n, "body", &t, &tl) == -1 || tl < 5) {
		xl.stray++;
		return;
	}
	snprintf(body, sizeof(body), "%.*s", (int)(tl < 63 ? tl : 63), t);
	if (sscanf(body, "xl %d %llu", &step, &sent) != 2) {
		xl.stray++;
		return;
	}
	if (step != xl.cur || xl.cur >= xl.nrates || xl.steps[step].done) {
		xl.late++;
		return;
	}
	st = &xl.steps[step];
	now = benchutil_now_ns();
	lat = now > sent ? (now - sent) / 1000 : 0;
	st->recv++;
	if (st->nlat == st->caplat) {
		if (st->caplat >= XL_MAX_LAT)
			return;
		st->caplat = st->caplat ? 2 * st->caplat : 65536;
		if ((nl = reallocarray(st->lat, st->caplat,
		    sizeof(*nl))) == NULL)
			fatalx("out of memory");
		st->lat = nl;
	}
	st->lat[st->nlat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
}

/*
 * Bound (and SM on, with -M): available, then a ping whose answer says
 * the server has taken the presence in.
 */
static void
client_sync(struct sess *s)
{
	sess_printf(s, "<presence/>");
	sess_stanza(s);
	sess_printf(s, "<iq type='get' id='sync' to='%s'><ping "
	    "xmlns='urn:xmpp:ping'/></iq>", xl.domain);
	sess_stanza(s);
	s->state = S_SYNC;
}

/* The client side of the protocol, one top-level element at a time. */
int
client_element(struct sess *s, const char *p, size_t n)
{
	const char	*name;
	size_t		 nl;
	char		 id[64], type[16], from[512], cond[64];

	name = elem_name(p, n, &nl);
#define IS(w)	(nl == sizeof(w) - 1 && strncmp(name, (w), nl) == 0)
	switch (s->state) {
	case S_FEAT1:
		if (!IS("features"))
			break;
		if (memmem(p, n, "<starttls", 9) == NULL) {
			sess_fail(s, "no STARTTLS offered", NULL);
			return (P_STOP);
		}
		sess_printf(s, "<starttls xmlns='" NS_TLS "'/>");
		s->state = S_PROCEED;
		return (P_CONT);
	case S_PROCEED:
		if (IS("proceed"))
			return (client_starttls(s));
		sess_fail(s, "STARTTLS refused", NULL);
		return (P_STOP);
	case S_FEAT2:
		if (!IS("features"))
			break;
		if (!xl.reg && memmem(p, n, xl.mech == MECH_PLAIN ? ">PLAIN<" :
		    xl.mech == MECH_SHA1 ? ">SCRAM-SHA-1<" : ">SCRAM-SHA-256<",
		    xl.mech == MECH_PLAIN ? 7 : xl.mech == MECH_SHA1 ? 13 :
		    15) == NULL) {
			sess_fail(s, "mechanism not offered", NULL);
			return (P_STOP);
		}
		client_auth(s);
		return (P_CONT);
	case S_SASL:
		if (IS("challenge"))
			return (client_challenge(s, p, n));
		if (IS("success")) {
			if (client_success(s, p, n) == P_STOP)
				return (P_STOP);
			sess_reset(s);
			s->state = S_FEAT3;
			sess_header(s);
			return (P_STOP);
		}
		if (IS("failure")) {
			const char	*c = memchr(p + 1, '<', n - 1);
			size_t		 k;

			snprintf(cond, sizeof(cond), "?");
			if (c != NULL && c[1] != '/') {
				c = elem_name(c, n - (c - p), &k);
				snprintf(cond, sizeof(cond), "%.*s", (int)k,
				    c);
			}
			sess_fail(s, "SASL failure", cond);
			return (P_STOP);
		}
		break;
	case S_FEAT3:
		if (!IS("features"))
			break;
		if (memmem(p, n, "<bind", 5) == NULL) {
			sess_fail(s, "no bind offered", NULL);
			return (P_STOP);
		}
		if (xl.sm_every > 0 && memmem(p, n, NS_SM,
		    sizeof(NS_SM) - 1) == NULL) {
			sess_fail(s, "no stream management offered", NULL);
			return (P_STOP);
		}
		sess_printf(s, "<iq type='set' id='bind'><bind xmlns='"
		    NS_BIND "'><resource>xl%d</resource></bind></iq>",
		    s->res);
		s->state = S_BIND;
		return (P_CONT);
	case S_SM:
		if (IS("enabled")) {
			s->sm = 1;
			client_sync(s);
			return (P_CONT);
		}
		if (IS("failed")) {
			sess_fail(s, "SM refused", NULL);
			return (P_STOP);
		}
		break;
	case S_BIND:
	case S_SYNC:
	case S_REG:
		if (!IS("iq"))
			break;
		if (elem_attr(p, n, "id", id, sizeof(id)) == -1 ||
		    elem_attr(p, n, "type", type, sizeof(type)) == -1)
			break;
		if (s->state == S_REG && strcmp(id, "reg") == 0) {
			if (strcmp(type, "result") == 0 ||
			    memmem(p, n, "<conflict", 9) != NULL) {
				sess_close(s);
				s->state = S_DONE;
				login_done(s, 1);
			} else
				sess_fail(s, "registration refused",
				    stanza_error(p, n, cond, sizeof(cond)));
			return (P_STOP);
		}
		if (s->state == S_BIND && strcmp(id, "bind") == 0) {
			if (strcmp(type, "result") != 0) {
				sess_fail(s, "bind refused",
				    stanza_error(p, n, cond, sizeof(cond)));
				return (P_STOP);
			}
			if (xl.sm_every > 0) {
				/* Stream management first (-M). */
				sess_printf(s, "<enable xmlns='" NS_SM "' "
				    "resume='true'/>");
				s->state = S_SM;
				return (P_CONT);
			}
			client_sync(s);
			return (P_CONT);
		}
		if (s->state == S_SYNC && strcmp(id, "sync") == 0) {
			s->state = S_READY;
			login_done(s, 1);
			return (P_CONT);
		}
		break;
	case S_READY:
		if (IS("message")) {
			client_message(s, p, n);
			return (P_CONT);
		}
		if (IS("iq") && elem_attr(p, n, "type", type,
		    sizeof(type)) == 0 && (strcmp(type, "get") == 0 ||
		    strcmp(type, "set") == 0) &&
		    elem_attr(p, n, "id", id, sizeof(id)) == 0 &&
		    elem_attr(p, n, "from", from, sizeof(from)) == 0) {
			sess_printf(s, "<iq type='result' id='%s' to='%s'/>",
			    id, from);
			sess_stanza(s);
		}
		return (P_CONT);
	default:
		break;
	}
#undef IS
	/* Presence, and anything else we did not ask for, is ignored. */
	return (P_CONT);
}

/* XEP-0114: hex SHA-1 of the stream id and the secret. */
void
comp_handshake(struct sess *s)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 ml, i;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1], *h;

	if (asprintf(&h, "%s%s", s->sid, xl.secret) == -1)
		fatalx("out of memory");
	EVP_Digest(h, strlen(h), md, &ml, EVP_sha1(), NULL);
	explicit_bzero(h, strlen(h));
	free(h);
	for (i = 0; i < ml; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	sess_printf(s, "<handshake>%s</handshake>", hex);
}

/* The echo component: every message goes back to its sender. */
int
comp_element(struct sess *s, const char *p, size_t n)
{
	const char	*name, *t;
	size_t		 nl, tl;
	char		 from[512], to[512];

	name = elem_name(p, n, &nl);
	if (s->state == S_HANDSHAKE) {
		if (nl == 9 && strncmp(name, "handshake", 9) == 0) {
			s->state = S_READY;
			note("component %s connected", xl.comp_domain);
			return (P_CONT);
		}
		sess_fail(s, "handshake refused", NULL);
		return (P_STOP);
	}
	if (nl != 7 || strncmp(name, "message", 7) != 0)
		return (P_CONT);
	if (elem_attr(p, n, "from", from, sizeof(from)) == -1 ||
	    elem_attr(p, n, "to", to, sizeof(to)) == -1 ||
	    elem_text(p, n, "body", &t, &tl) == -1)
		return (P_CONT);
	if (xl.cur < xl.nrates)
		xl.steps[xl.cur].comp_in++;
	sess_printf(s, "<message from='%s' to='%s' type='chat'><body>",
	    to, from);
	sess_send(s, t, tl);
	sess_send(s, "</body></message>", 17);
	return (P_CONT);
}

/* A login (or registration) finished, well or not. */
void
login_done(struct sess *s, int ok)
{
	if (s->kind != K_CLIENT)
		return;
	xl.inflight--;
	if (ok) {
		xl.ok++;
		if (xl.nlogin < xl.nsess)
			xl.login_ns[xl.nlogin++] = benchutil_now_ns() - s->t0;
		if (s->state == S_READY)
			xl.ready[xl.nready++] = s->id;
	} else
		xl.failed++;
	if (xl.phase != PH_LOGIN)
		return;
	launch();
}
