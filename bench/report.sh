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
names = [("mmpd", "mmpd"), ("prosody", "Prosody"), ("ejabberd", "ejabberd")]


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
R = {s: {w: load(s, w) for w in ("load", "component", "idle", "ctl")}
     for s, _ in names}
servers = [(s, t) for s, t in names if any(R[s].values())]


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
row("sustained msg/s (p99<=50ms, 100%)", "higher", vals, texts, nd=0)
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
peers = [(s, t) for s, t in servers if s != "mmpd"]
w = 46
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
print("Targets (issue 5), where mmpd stands:")
if any(s == "mmpd" for s, _ in servers):
    sus = vals_of("sustained msg/s", "Messages")
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
print("Raw results: bench/out/xmpp-*.json; plot: bench/out/xmpp-latency.png")

# Data for the plot.
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
