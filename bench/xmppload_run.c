/*
 * xmppload: the run: logins in flight, offered-load steps, timers and the
 * JSON report.
 */
#include "xmppload.h"

/* Start logins until the in-flight cap or the end of the list. */
void
launch(void)
{
	static int	 busy;

	if (busy)
		return;	/* a connect failed at once: the loop goes on */
	busy = 1;
	while (xl.inflight < xl.conc && xl.next < xl.nsess &&
	    xl.phase == PH_LOGIN) {
		xl.inflight++;
		sess_start(&xl.sess[xl.next++]);
	}
	busy = 0;
	if (xl.phase == PH_LOGIN && xl.ok + xl.failed == xl.nsess)
		logins_finished();
}

/* Every login has finished: measure, then hold or send. */
void
logins_finished(void)
{
	struct timeval	 tv = { 0, XL_SETTLE_MS * 1000 };

	xl.t_login1 = benchutil_now_ns();
	xl.lcpu1 = benchutil_proc_cpu(xl.pid);
	xl.lgcpu1 = gen_cpu();
	xl.rss_after = proc_rss(xl.pid);
	note("logins: %d ok, %d failed in %.2f s", xl.ok, xl.failed,
	    (xl.t_login1 - xl.t_login0) / 1e9);
	if (xl.hold_secs > 0) {
		xl.phase = PH_HOLD;
		xl.hold_until = benchutil_now_ns() + (uint64_t)xl.hold_secs * 1000000000;
		return;
	}
	if (xl.nrates == 0 || xl.nready < 2) {
		finish();
		return;
	}
	xl.phase = PH_SETTLE;
	evtimer_add(xl.later, &tv);
}

/* Start offered-load step i. */
void
step_begin(int i)
{
	struct step	*st = &xl.steps[i];

	xl.cur = i;
	memset(st, 0, sizeof(*st));
	st->rate = xl.rates[i];
	st->cpu0 = benchutil_proc_cpu(xl.pid);
	st->rss0 = proc_rss(xl.pid);
	st->gcpu0 = gen_cpu();
	st->t_start = benchutil_now_ns();
	xl.phase = PH_SEND;
}

/* Take a step's measurements and judge it. */
void
step_close(struct step *st)
{
	double		 wall;

	if (st->t_sent == 0)
		st->t_sent = benchutil_now_ns();
	st->t_end = benchutil_now_ns();
	st->done = 1;
	st->cpu1 = benchutil_proc_cpu(xl.pid);
	st->rss1 = proc_rss(xl.pid);
	st->gcpu1 = gen_cpu();
	qsort(st->lat, st->nlat, sizeof(*st->lat), benchutil_cmp_u32);
	wall = (st->t_end - st->t_start) / 1e9;
	st->ok = st->recv == st->sent && st->errors == 0 && !st->behind &&
	    benchutil_pct_u32(st->lat, st->nlat, 0.99) / 1000 <= xl.p99_limit &&
	    (st->gcpu1 - st->gcpu0) < 0.95 * wall;
	note("step %d msg/s: sent %llu, received %llu, p99 %.2f ms, "
	    "server cpu %.2f s%s", st->rate, (unsigned long long)st->sent,
	    (unsigned long long)st->recv,
	    benchutil_pct_u32(st->lat, st->nlat, 0.99) / 1000,
	    xl.pid > 0 ? st->cpu1 - st->cpu0 : -1.0,
	    st->ok ? "" : " (falls behind)");
}

/* A step has drained (or given up waiting): go on or stop. */
void
step_end(void)
{
	struct step	*st = &xl.steps[xl.cur];
	struct timeval	 tv = { 0, XL_SETTLE_MS * 1000 };

	step_close(st);
	if (xl.cur + 1 < xl.nrates && (st->ok || xl.keep_going)) {
		xl.phase = PH_SETTLE;
		evtimer_add(xl.later, &tv);
		return;
	}
	xl.phase = PH_SETTLE;
	finish();
}

/* Send one message from the next session to a random other account. */
void
send_one(struct step *st, uint64_t now)
{
	struct sess	*s, *r;
	char		 buf[512];
	int		 k, n;

	s = &xl.sess[xl.ready[xl.rr++ % xl.nready]];
	if (s->state != S_READY)
		return;
	if (xl.comp_port != 0)
		n = snprintf(buf, sizeof(buf), "<message to='echo@%s' "
		    "type='chat'><body>xl %d %llu %d ", xl.comp_domain,
		    xl.cur, (unsigned long long)now, s->acct);
	else {
		k = rnd() % xl.nready;
		r = &xl.sess[xl.ready[k]];
		if (r == s)
			r = &xl.sess[xl.ready[(k + 1) % xl.nready]];
		n = snprintf(buf, sizeof(buf), "<message to='user%d@%s' "
		    "type='chat'><body>xl %d %llu %d ", r->acct, xl.domain,
		    xl.cur, (unsigned long long)now, s->acct);
	}
	sess_send(s, buf, n);
	if (xl.pad > 0)
		sess_send(s, xl.padding, xl.pad);
	sess_send(s, "</body></message>", 17);
	sess_stanza(s);
	st->sent++;
}

/* Every millisecond: send what the offered rate asks for, or drain. */
void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct step	*st = &xl.steps[xl.cur];
	uint64_t	 now = benchutil_now_ns(), el, due, n, i, cap;

	(void)fd;
	(void)what;
	(void)arg;
	if (xl.phase == PH_SEND) {
		el = now - st->t_start;
		if (el >= (uint64_t)xl.step_secs * 1000000000) {
			st->t_sent = now;
			xl.phase = PH_DRAIN;
			return;
		}
		due = (uint64_t)((double)st->rate * el / 1e9);
		if (due <= st->sent)
			return;
		n = due - st->sent;
		/* More than 50 ms behind the schedule: we cannot keep up. */
		if (n > (uint64_t)st->rate / 20 + 1)
			st->behind = 1;
		cap = st->rate / 100 + 10;
		for (i = 0; i < n && i < cap; i++)
			send_one(st, now);
	} else if (xl.phase == PH_DRAIN) {
		if (st->recv + st->errors >= st->sent ||
		    now - st->t_sent >= (uint64_t)xl.drain_secs * 1000000000)
			step_end();
	}
}

/* Once a second: login timeouts, the hold, the overall bound. */
void
house_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	 now = benchutil_now_ns();
	int		 i;

	(void)fd;
	(void)what;
	(void)arg;
	if (now >= xl.deadline) {
		note("time bound of %d s reached, stopping", xl.max_secs);
		xl.aborted = 1;
		finish();
		return;
	}
	if (xl.phase == PH_LOGIN) {
		for (i = 0; i < xl.next; i++) {
			if (xl.sess[i].state > S_IDLE &&
			    xl.sess[i].state < S_READY &&
			    now - xl.sess[i].t0 > XL_LOGIN_SECS * 1000000000ULL)
				sess_fail(&xl.sess[i], "login timeout", NULL);
		}
		if (xl.phase == PH_LOGIN && !xl.quiet && xl.nsess >= 2000)
			note("logins: %d ok, %d failed, %d in flight", xl.ok,
			    xl.failed, xl.inflight);
	}
	if (xl.phase == PH_HOLD && now >= xl.hold_until) {
		xl.rss_hold = proc_rss(xl.pid);
		xl.hold_secs = 0;
		if (xl.nrates == 0 || xl.nready < 2) {
			finish();
			return;
		}
		step_begin(0);
	}
}

/* After a pause: the first or the next step. */
void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (xl.phase != PH_SETTLE)
		return;
	step_begin(xl.steps[0].done ? xl.cur + 1 : 0);
}

/* Write the report and leave the loop. */
void
finish(void)
{
	if (xl.phase == PH_DONE)
		return;
	if (xl.phase == PH_LOGIN && xl.t_login1 == 0) {
		xl.t_login1 = benchutil_now_ns();
		xl.lcpu1 = benchutil_proc_cpu(xl.pid);
		xl.lgcpu1 = gen_cpu();
		xl.rss_after = proc_rss(xl.pid);
	}
	if ((xl.phase == PH_SEND || xl.phase == PH_DRAIN) &&
	    xl.cur < xl.nrates && !xl.steps[xl.cur].done)
		step_close(&xl.steps[xl.cur]);
	xl.phase = PH_DONE;
	report(stdout);
	event_base_loopexit(xl.base, NULL);
}

/* The report: one JSON object. */
void
report(FILE *f)
{
	struct step	*st;
	uint32_t	*lms;
	double		 wall, cpu, gcpu;
	int		 i, best = 0;

	qsort(xl.login_ns, xl.nlogin, sizeof(*xl.login_ns), cmp_u64);
	if ((lms = calloc(xl.nlogin + 1, sizeof(*lms))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < xl.nlogin; i++)
		lms[i] = xl.login_ns[i] / 1000;
	wall = (xl.t_login1 - xl.t_login0) / 1e9;
	cpu = xl.pid > 0 && xl.lcpu1 >= 0 ? xl.lcpu1 - xl.lcpu0 : -1;
	fprintf(f, "{\n  \"tool\": \"xmppload\",\n");
	fprintf(f, "  \"target\": \"%s\", \"port\": %d, \"domain\": \"%s\",\n",
	    xl.addr, xl.port, xl.domain);
	fprintf(f, "  \"sm_every\": %d, \"sm_requests\": %llu, "
	    "\"sm_acks\": %llu, \"sm_answered\": %llu,\n", xl.sm_every,
	    (unsigned long long)xl.sm_reqs, (unsigned long long)xl.sm_acks,
	    (unsigned long long)xl.sm_asked);
	fprintf(f, "  \"mode\": \"%s\", \"mechanism\": \"%s\",\n",
	    xl.reg ? "register" : xl.comp_port ? "component" : "client",
	    xl.mech == MECH_PLAIN ? "PLAIN" : xl.mech == MECH_SHA1 ?
	    "SCRAM-SHA-1" : "SCRAM-SHA-256");
	fprintf(f, "  \"accounts\": %d, \"first\": %d, \"resources\": %d, "
	    "\"sessions\": %d,\n", xl.naccts, xl.first, xl.nres, xl.nsess);
	fprintf(f, "  \"concurrency\": %d, \"server_pid\": %d, "
	    "\"aborted\": %s,\n", xl.conc, (int)xl.pid,
	    xl.aborted ? "true" : "false");
	fprintf(f, "  \"login\": {\"ok\": %d, \"failed\": %d, "
	    "\"dropped_after\": %d, \"wall_s\": %.3f, \"per_s\": %.1f,\n",
	    xl.ok, xl.failed, xl.dropped, wall, wall > 0 ? xl.ok / wall : 0);
	fprintf(f, "    \"time_ms\": {\"p50\": %.2f, \"p90\": %.2f, "
	    "\"p99\": %.2f, \"max\": %.2f},\n",
	    benchutil_pct_u32(lms, xl.nlogin, 0.5) / 1000,
	    benchutil_pct_u32(lms, xl.nlogin, 0.9) / 1000,
	    benchutil_pct_u32(lms, xl.nlogin, 0.99) / 1000,
	    benchutil_pct_u32(lms, xl.nlogin, 1) / 1000);
	fprintf(f, "    \"server_cpu_s\": %.2f, \"per_server_cpu_s\": %.1f, "
	    "\"generator_cpu_pct\": %.1f,\n", cpu, cpu > 0 ? xl.ok / cpu : -1,
	    wall > 0 ? 100 * (xl.lgcpu1 - xl.lgcpu0) / wall : 0);
	fprintf(f, "    \"server_rss_kib_before\": %ld, "
	    "\"server_rss_kib_after\": %ld, \"server_rss_kib_held\": %ld,\n",
	    xl.rss_before, xl.rss_after, xl.rss_hold);
	fprintf(f, "    \"rss_kib_per_session\": %.2f},\n", xl.ok > 0 &&
	    xl.rss_before > 0 ? (double)((xl.rss_hold > 0 ? xl.rss_hold :
	    xl.rss_after) - xl.rss_before) / xl.ok : -1);
	free(lms);
	fprintf(f, "  \"p99_limit_ms\": %.1f, \"step_s\": %d, \"pad\": %d,\n",
	    xl.p99_limit, xl.step_secs, xl.pad);
	fprintf(f, "  \"steps\": [");
	for (i = 0; i < xl.nrates && i < xl.cur + 1; i++) {
		st = &xl.steps[i];
		if (!st->done)
			break;
		wall = (st->t_end - st->t_start) / 1e9;
		cpu = xl.pid > 0 && st->cpu1 >= 0 ? st->cpu1 - st->cpu0 : -1;
		gcpu = st->gcpu1 - st->gcpu0;
		fprintf(f, "%s\n    {\"rate\": %d, \"sent\": %llu, "
		    "\"received\": %llu, \"errors\": %llu, \"component_in\": "
		    "%llu,\n", i ? "," : "", st->rate,
		    (unsigned long long)st->sent,
		    (unsigned long long)st->recv,
		    (unsigned long long)st->errors,
		    (unsigned long long)st->comp_in);
		fprintf(f, "     \"delivered_pct\": %.3f, \"latency_ms\": "
		    "{\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
		    "\"max\": %.3f},\n", st->sent ? 100.0 * st->recv /
		    st->sent : 0, benchutil_pct_u32(st->lat, st->nlat, 0.5) / 1000,
		    benchutil_pct_u32(st->lat, st->nlat, 0.9) / 1000,
		    benchutil_pct_u32(st->lat, st->nlat, 0.99) / 1000,
		    benchutil_pct_u32(st->lat, st->nlat, 1) / 1000);
		fprintf(f, "     \"wall_s\": %.3f, \"server_cpu_s\": %.2f, "
		    "\"server_cpu_us_per_msg\": %.2f, \"server_rss_kib\": %ld, "
		    "\"generator_cpu_pct\": %.1f, \"behind\": %s, "
		    "\"ok\": %s}", wall, cpu, cpu >= 0 && st->recv ?
		    cpu * 1e6 / st->recv : -1, st->rss1, wall > 0 ?
		    100 * gcpu / wall : 0, st->behind ? "true" : "false",
		    st->ok ? "true" : "false");
		if (st->ok)
			best = st->rate;
	}
	fprintf(f, "\n  ],\n  \"sustained_rate\": %d, \"late\": %llu, "
	    "\"stray\": %llu,\n", best, (unsigned long long)xl.late,
	    (unsigned long long)xl.stray);
	fprintf(f, "  \"failures\": [");
	for (i = 0; i < xl.nreasons; i++) {
		const char	*c;

		fprintf(f, "%s{\"reason\": \"", i ? ", " : "");
		for (c = xl.reasons[i].text; *c != '\0'; c++)
			if (*c == '"' || *c == '\\')
				fprintf(f, "\\%c", *c);
			else if ((unsigned char)*c >= 0x20)
				fputc(*c, f);
		fprintf(f, "\", \"count\": %d}", xl.reasons[i].n);
	}
	fprintf(f, "]\n}\n");
	fflush(f);
}
