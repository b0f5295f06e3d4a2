#!/bin/sh
# make bench, XMPP part: the table of bench/xmpp.sh's results (stdout and
# bench/out/xmpp-table.txt) with mmpd/peer ratios and the issue's
# targets, and the p99-against-load plot (bench/out/xmpp-latency.png).
# Reads only bench/out/xmpp-*.json: it can be run again on its own.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$TOP/bench/out}

/usr/bin/python3 - "$OUT" <<'EOF' | tee "$OUT/xmpp-table.txt"
import json, os, sys, textwrap

out = sys.argv[1]
names = [("mmpd", "mmpd"), ("prosody", "Prosody"), ("ejabberd", "ejabberd"),
         ("floor", "floor")]
WORK = ("load", "component", "idle", "ctl", "same", "same-m", "tsung",
        "tsung-m", "curve")


def load(srv, what):
    try:
        with open(os.path.join(out, "xmpp-%s-%s.json" % (srv, what))) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


try:
    with open(os.path.join(out, "xmpp-env.json")) as f:
        env = json.load(f)
except (OSError, ValueError):
    env = {}
R = {s: {w: load(s, w) for w in WORK} for s, _ in names}
servers = [(s, t) for s, t in names if any(R[s].values()) or
           load(s, "smoff1") or load(s, "smon1")]


def steps(j):
    return j["steps"] if j else []


def sustained(j):
    """The highest rate passed, and whether a higher step was refused."""
    if not j or not steps(j):
        return None, False
    st = steps(j)
    limited = bool(st) and st[-1]["ok"] is False
    return j["sustained_rate"], limited


def common_rate():
    """The highest rate every server passed (for per-message CPU)."""
    best = None
    for s, _ in servers:
        if not R[s]["load"]:
            continue
        ok = {x["rate"] for x in steps(R[s]["load"]) if x["ok"]}
        best = ok if best is None else best & ok
    return max(best) if best else None


def step_at(j, rate):
    for x in steps(j):
        if x["rate"] == rate:
            return x
    return None


def fmt(v, nd=1):
    if v is None or (not isinstance(v, str) and v < 0):
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "{:.{}f}".format(v, nd)


rows = []          # (label, better, {srv: value}, {srv: text})


def row(label, better, vals, texts=None, nd=1):
    rows.append((label, better, vals, texts or {}, nd))


def section(title):
    rows.append((title, None, None, None, None))


def get(srv, what, *path):
    v = R[srv][what]
    for k in path:
        if v is None:
            return None
        v = v.get(k) if isinstance(v, dict) else None
    return v


def window_msgs(srv, drv):
    """Messages offered over the measuring window of a same-load run."""
    m = R[srv][drv + "-m"]
    j = R[srv][drv]
    if not m or not j or not m.get("window_s"):
        return None
    if drv == "tsung":
        want = j["users"] * j["iterations"]
        if not want or not j.get("chats"):
            return None
        return j["offered_rate"] * m["window_s"] * min(j["chats"] / want, 1)
    st = j.get("steps") or []
    if not st or not st[0].get("wall_s"):
        return None
    return st[0]["sent"] * m["window_s"] / st[0]["wall_s"]


def per_msg(srv, drv, what):
    """A same-load figure per message: cpu, user, sys (us), sys-calls,
    allocs."""
    m, n = R[srv][drv + "-m"], window_msgs(srv, drv)
    if not m or not n:
        return None
    if what in ("cpu", "user", "sys"):
        u, k = m.get("cpu_user_s"), m.get("cpu_sys_s")
        if u is None or k is None:
            return None
        v = {"cpu": u + k, "user": u, "sys": k}[what]
        return v * 1e6 / n
    v = m.get({"syscalls": "syscalls", "allocs": "allocs"}[what])
    return None if v is None else v / n


if any(R[s]["same-m"] or R[s]["tsung-m"] for s, _ in servers):
    section("Same offered load: %s sessions over STARTTLS, %s chat msg/s "
            "for %s s (server CPU 0, driver CPU 1); per message sent"
            % (env.get("same_users", 300), fmt(env.get("same_rate", 3000)),
               env.get("same_s", 10)))
    for drv, dn in (("same", "xmppload"), ("tsung", "tsung")):
        if not any(R[s][drv + "-m"] for s, _ in servers):
            continue
        row("%s: server CPU us, user + system" % dn, "lower",
            {s: per_msg(s, drv, "cpu") for s, _ in servers})
        row("%s: server CPU us in user space" % dn, "lower",
            {s: per_msg(s, drv, "user") for s, _ in servers})
        row("%s: server CPU us in the kernel" % dn, "lower",
            {s: per_msg(s, drv, "sys") for s, _ in servers})
        row("%s: syscalls" % dn, "lower",
            {s: per_msg(s, drv, "syscalls") for s, _ in servers}, nd=2)
        row("%s: heap allocations" % dn, "lower",
            {s: per_msg(s, drv, "allocs") for s, _ in servers})
    row("xmppload: p99 latency ms", "lower",
        {s: (((R[s]["same"] or {}).get("steps") or [{}])[0]
             .get("latency_ms") or {}).get("p99") for s, _ in servers}, nd=2)
    row("KiB RSS per logged-in TLS session", "lower",
        {s: get(s, "same", "login", "rss_kib_per_session")
         for s, _ in servers})
    fl = per_msg("floor", "same", "cpu")
    if fl:
        row("xmppload: CPU per message / the floor's", "lower",
            {s: (per_msg(s, "same", "cpu") or 0) / fl or None
             for s, _ in servers}, nd=2)



def sm_cost(srv, mode, what):
    """A per-message figure (cpu, user, sys in us; syscalls; allocs) of
    the stream-management pairs' runs without (off) or with (on) SM:
    the median over the pairs, or None."""
    vals = []
    for i in range(1, 100):
        m, j = load(srv, "sm%s%d-m" % (mode, i)), load(srv, "sm%s%d" % (
            mode, i))
        if m is None and j is None:
            break
        st = (j or {}).get("steps") or []
        if not m or not m.get("window_s") or not st or \
                not st[0].get("wall_s") or not st[0]["sent"]:
            continue
        if mode == "on" and not j.get("sm_acks"):
            continue        # stream management was not on
        n = st[0]["sent"] * m["window_s"] / st[0]["wall_s"]
        u, k = m.get("cpu_user_s"), m.get("cpu_sys_s")
        v = {"cpu": None if u is None or k is None else u + k,
             "user": u, "sys": k, "syscalls": m.get("syscalls"),
             "allocs": m.get("allocs")}[what]
        if v is not None:
            vals.append(v * (1e6 if what in ("cpu", "user", "sys") else 1)
                        / n)
    if not vals:
        return None
    vals.sort()
    return vals[len(vals) // 2] if len(vals) % 2 else \
        (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2


SM = {s: {(mode, what): sm_cost(s, mode, what) for mode in ("off", "on")
          for what in ("cpu", "user", "syscalls", "allocs")}
      for s, _ in servers}
if any(v is not None for x in SM.values() for v in x.values()):
    section("Stream management (XEP-0198) at the same load: %s pairs of "
            "runs, the clients asking an ack every %s stanzas; median per "
            "message" % (env.get("sm_pairs", "?"), env.get("sm_every", "?")))
    row("server CPU us, user + system, without SM", "lower",
        {s: SM[s][("off", "cpu")] for s, _ in servers})
    row("server CPU us, user + system, with SM", "lower",
        {s: SM[s][("on", "cpu")] for s, _ in servers})
    d = {}
    pc = {}
    for s, _ in servers:
        a, b = SM[s][("off", "cpu")], SM[s][("on", "cpu")]
        if a is not None and b is not None:
            d[s] = b - a
            pc[s] = 100 * (b - a) / a if a else None
    row("SM costs more per message, us", "", d,
        {s: "%+.1f" % v for s, v in d.items()})
    row("SM costs more per message, %", "", pc,
        {s: "%+.1f%%" % v for s, v in pc.items() if v is not None})
    row("with SM: server CPU us in user space", "lower",
        {s: SM[s][("on", "user")] for s, _ in servers})
    for what, label, nd in (("syscalls", "syscalls", 2),
                            ("allocs", "heap allocations", 1)):
        for mode, how in (("off", "without"), ("on", "with")):
            row("%s %s SM" % (label, how), "lower",
                {s: SM[s][(mode, what)] for s, _ in servers}, nd=nd)

storm = env.get("storm", 1000)
section("Login storm: %s accounts, SCRAM-SHA-1 over STARTTLS, %s in flight"
        % (storm, env.get("concurrency", 100)))
row("logins per server CPU second", "higher",
    {s: get(s, "load", "login", "per_server_cpu_s") for s, _ in servers})
row("logins per second (wall)", "higher",
    {s: get(s, "load", "login", "per_s") for s, _ in servers})
row("login time p99 (ms)", "lower",
    {s: get(s, "load", "login", "time_ms", "p99") for s, _ in servers})
row("KiB server RSS per session", "lower",
    {s: get(s, "load", "login", "rss_kib_per_session") for s, _ in servers})
row("failed logins", "", {s: get(s, "load", "login", "failed")
                          for s, _ in servers}, nd=0)

section("Messages: %s sessions, chat to random accounts, steps of %s s"
        % (storm, env.get("step_s", 5)))
vals, texts = {}, {}
for s, _ in servers:
    v, limited = sustained(R[s]["load"])
    vals[s] = v
    if v is not None and not limited:
        texts[s] = ">=" + fmt(v)
row("saturation: msg/s at p99<=50ms, 100%", "higher", vals, texts, nd=0)
own = {}
for s, _ in servers:
    v, _l = sustained(R[s]["load"])
    own[s] = (step_at(R[s]["load"], v) or {}).get("server_cpu_us_per_msg") \
        if v else None
row("CPU us/msg at own sustained rate", "lower", own)
cr = common_rate()
if cr:
    row("CPU us/msg at %s msg/s" % fmt(cr), "lower",
        {s: (step_at(R[s]["load"], cr) or {}).get("server_cpu_us_per_msg")
         for s, _ in servers}, nd=1)
    row("p99 ms at %s msg/s" % fmt(cr), "lower",
        {s: (step_at(R[s]["load"], cr) or {}).get("latency_ms", {})
         .get("p99") for s, _ in servers}, nd=2)
first = steps(R[servers[0][0]]["load"])[:1] if servers else []
if first:
    r0 = first[0]["rate"]
    row("p50 ms at %s msg/s" % fmt(r0), "lower",
        {s: (step_at(R[s]["load"], r0) or {}).get("latency_ms", {})
         .get("p50") for s, _ in servers}, nd=2)

section("Component echo: client -> component (XEP-0114) -> client")
vals, texts = {}, {}
for s, _ in servers:
    v, limited = sustained(R[s]["component"])
    vals[s] = v
    if v is not None and not limited:
        texts[s] = ">=" + fmt(v)
row("sustained msg/s (p99<=50ms, 100%)", "higher", vals, texts, nd=0)

section("Idle: %s TLS sessions connected" % env.get("idle", 10000))
row("sessions connected", "", {s: get(s, "idle", "login", "ok")
                               for s, _ in servers}, nd=0)
row("KiB server RSS per session", "lower",
    {s: get(s, "idle", "login", "rss_kib_per_session") for s, _ in servers})

section("Control plane (wall time, client on CPU 1)")
row("one-shot admin command, median ms", "lower",
    {s: get(s, "ctl", "oneshot_median_ms") for s, _ in servers},
    nd=2)
row("batch, ms per command (mmp only)", "lower",
    {s: get(s, "ctl", "batch_median_ms_per_command") for s, _ in servers},
    nd=3)

def say(text):
    print(textwrap.fill(text, 78, subsequent_indent="  "))


# Print.
peers = [(s, t) for s, t in servers if s not in ("mmpd", "floor")]
w = 52
hdr = "%-*s" % (w, "") + "".join("%10s" % t for _, t in servers)
hdr += "".join("%14s" % ("mmpd/" + t) for _, t in peers)
print(hdr)
for label, better, vals, texts, nd in rows:
    if better is None:
        print(label)
        continue
    line = "  %-*s" % (w - 2, label + (" (%s)" % better if better else ""))
    for s, _ in servers:
        line += "%10s" % texts.get(s, fmt(vals.get(s), nd))
    for s, _ in peers:
        m, p = vals.get("mmpd"), vals.get(s)
        if better and m is not None and p not in (None, 0) and m >= 0 \
                and p > 0:
            r = m / p
            line += "%14s" % ("%.2f" % r if r >= 0.1 else "%.4f" % r)
        else:
            line += "%14s" % "-"
    print(line)
print()
say("Commands: one-shot = %s; batch = %s lines of `xmpp` into one mmp."
      % (", ".join("%s `%s`" % (t, get(s, "ctl", "command"))
                   for s, t in servers if get(s, "ctl", "command")),
         get("mmpd", "ctl", "batch_commands") or "-"))
say(">=N: the server passed every step up to N; the generator offered no"
      " more.")

# What went wrong, as the generator saw it.
for s, t in servers:
    for w_ in ("load", "component", "idle"):
        j = R[s][w_]
        if j and j.get("failures"):
            say("failures: %s %s: %s" % (t, w_, "; ".join(
                "%s (%d)" % (x["reason"], x["count"])
                for x in j["failures"])))

# Where the generator, not the server, set the pace.
for s, t in servers:
    g = get(s, "load", "login", "generator_cpu_pct")
    if g is not None and g > 80:
        say("note: %s login storm: the generator was %.0f%% busy (SCRAM's "
              "4,096 PBKDF2 iterations and the TLS handshake, client side):"
              " logins per second (wall) is its pace, not the server's."
              % (t, g))

# Where a step failed because the generator, not the server, ran out.
for s, t in servers:
    for w_ in ("load", "component"):
        st = steps(R[s][w_])
        if st and not st[-1]["ok"] and st[-1]["generator_cpu_pct"] > 90 \
                and 0 <= st[-1]["server_cpu_s"] < 0.9 * st[-1]["wall_s"]:
            say("note: %s %s: at %s msg/s the generator used %.0f%% of "
                  "its core; the server's ceiling may be higher."
                  % (t, w_, fmt(st[-1]["rate"]),
                     st[-1]["generator_cpu_pct"]))

# Targets of issue 5.
def ratio(key_vals, peer):
    m, p = key_vals.get("mmpd"), key_vals.get(peer)
    if m is None or p in (None, 0):
        return None
    return m / p


def verdict(ok):
    return "met" if ok else "MISSED"


def vals_of(label, section_word):
    cur = None
    for l, b, v, t, n in rows:
        if b is None:
            cur = l
        elif l.startswith(label) and cur.startswith(section_word):
            return v
    return {}


def target(label, value, want, ok, lower_bound=False):
    v = verdict(ok)
    if lower_bound and not ok:
        v = "not shown (mmpd passed every step: offer more)"
    print("  %-40s %-10s want %-9s %s" % (label, value, want, v))


print()
print("Targets (issues 5 and 16), where mmpd stands:")
if any(s == "mmpd" for s, _ in servers):
    sus = vals_of("saturation: msg/s", "Messages")
    m_lim = sustained(R["mmpd"]["load"])[1]
    for peer, t in (("prosody", "Prosody"), ("ejabberd", "ejabberd")):
        r = ratio(sus, peer)
        if r is None:
            continue
        if peer == "prosody":
            target("sustained msg/s per core vs Prosody",
                   "%s%.1fx" % ("" if m_lim else ">=", r), ">= 10x",
                   r >= 10, not m_lim)
        else:
            target("sustained msg/s per core vs ejabberd",
                   "%s%.1fx" % ("" if m_lim else ">=", r), "> 1x", r > 1,
                   not m_lim)
    r = ratio(vals_of("KiB server RSS per session", "Idle"), "prosody")
    if r is not None:
        target("RSS per TLS session vs Prosody", "%.2fx" % r, "<= 0.33x",
               r <= 1 / 3)
    r = ratio(vals_of("logins per server CPU second", "Login"), "prosody")
    if r is not None:
        target("logins per server CPU second vs Prosody", "%.1fx" % r,
               ">= 4x", r >= 4)
    for drv, dn in (("same", "xmppload"), ("tsung", "tsung")):
        v = per_msg("mmpd", drv, "syscalls")
        if v is not None:
            target("syscalls per message (%s)" % dn, "%.2f" % v, "<= 3",
                   v <= 3)
        for what, want, k in (("user", ">= 10x", 10), ("cpu", ">= 4x", 4)):
            m, p = per_msg("mmpd", drv, what), per_msg("prosody", drv, what)
            if m and p:
                target("%s CPU/msg below Prosody (%s)" % (
                       "user" if what == "user" else "total", dn),
                       "%.1fx" % (p / m), want, p / m >= k)
    m = get("mmpd", "idle", "login", "rss_kib_per_session")
    if m is not None:
        target("RSS per idle TLS session (%s)" % fmt(get("mmpd", "idle",
               "login", "ok"), 0), "%.1f KiB" % m, "<= 16 KiB", m <= 16)
        n = get("mmpd", "idle", "login", "ok") or 0
        rss = get("mmpd", "idle", "login", "server_rss_kib_after")
        if n >= 100000 and rss:
            target("100,000 idle TLS sessions", "%.2f GiB" % (rss / 2**20),
                   "<= 2 GiB", rss <= 2 * 2**20)
    o = get("mmpd", "ctl", "oneshot_median_ms")
    if o is not None:
        target("mmp one-shot command, median", "%.2f ms" % o, "< 5 ms",
               o < 5)
    b = get("mmpd", "ctl", "batch_median_ms_per_command")
    if b is not None:
        target("mmp batch, per command", "%.3f ms" % b, "< 0.5 ms", b < 0.5)
print()
say("Machine: %s CPUs, kernel %s; mmpd %s, Prosody %s, ejabberd %s, "
      "OpenSSL %s; %s; bench time %s s." % (
          env.get("cpus", "?"), env.get("kernel", "?"), env.get("mmpd", "?"),
          env.get("prosody", "?"), env.get("ejabberd", "?"),
          env.get("openssl", "?"), env.get("date", "?"),
          env.get("seconds", "?")))
print("Raw results: bench/out/xmpp-*.json; plots: bench/out/xmpp-latency.png,"
      " bench/out/cpu.png")

# Data for the CPU plot: server CPU per message against offered load.
for s, t in servers:
    st = steps(R[s]["curve"])
    if st:
        with open(os.path.join(out, "xmpp-%s-cpu.dat" % s), "w") as f:
            f.write("# offered msg/s, server CPU us per msg, ok (%s)\n" % t)
            for x in st:
                if x.get("server_cpu_us_per_msg", -1) > 0:
                    f.write("%d %.3f %d\n" % (x["rate"],
                            x["server_cpu_us_per_msg"], 1 if x["ok"] else 0))

# Data for the latency plot.
for s, t in servers:
    st = steps(R[s]["load"])
    if st:
        with open(os.path.join(out, "xmpp-%s-load.dat" % s), "w") as f:
            f.write("# offered msg/s, p99 ms, delivered %%, ok (%s)\n" % t)
            for x in st:
                f.write("%d %.3f %.3f %d\n" % (x["rate"],
                        max(x["latency_ms"]["p99"], 0.001),
                        x["delivered_pct"], 1 if x["ok"] else 0))
EOF

files=
titles=
for s in mmpd prosody ejabberd; do
	f=$OUT/xmpp-$s-load.dat
	[ -s "$f" ] || continue
	files="$files $f"
	case $s in
	mmpd) titles="$titles mmpd" ;;
	prosody) titles="$titles Prosody" ;;
	ejabberd) titles="$titles ejabberd" ;;
	esac
done
if [ -n "$files" ] && command -v gnuplot >/dev/null 2>&1; then
	gnuplot -e "out='$OUT/xmpp-latency.png'; files='$files'; \
	    titles='$titles'" "$TOP/bench/plot.gp" ||
	    echo "report: gnuplot failed; no plot"
elif [ -n "$files" ]; then
	echo "report: no gnuplot (scripts/setup installs gnuplot-nox); no plot"
fi

files=
titles=
for s in mmpd prosody ejabberd floor; do
	f=$OUT/xmpp-$s-cpu.dat
	[ -s "$f" ] || continue
	files="$files $f"
	case $s in
	prosody) titles="$titles Prosody" ;;
	floor) titles="$titles floor(TLS-relay)" ;;
	*) titles="$titles $s" ;;
	esac
done
if [ -n "$files" ] && command -v gnuplot >/dev/null 2>&1; then
	gnuplot -e "out='$OUT/cpu.png'; files='$files'; titles='$titles'" \
	    "$TOP/bench/cpu.gp" || echo "report: gnuplot failed; no CPU plot"
fi
