# Turns the output of
#   go test -run '^$' -bench Forwarding -benchtime 1s -count 3 ./serialfwd/ > bench.txt
#   go test -run '^$' -bench RTTInterleaved -benchtime 20000x -count 5 ./serialfwd/ >> bench.txt
# into the Markdown tables of the README:
#   python3 serialfwd/testdata/benchtable.py bench.txt [more.txt ...]
# Figures are medians over the runs (rounds). Latency ratios are Gonaut over
# ser2net, computed per round from round trips interleaved in that round,
# then the median of those per-round ratios, with their range.
import collections, re, statistics, sys

rows = collections.defaultdict(lambda: collections.defaultdict(list))
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r'Benchmark(\S+?)-\d+\s+\d+\s+\S+ ns/op\s+(.*)', line)
        if not m:
            continue
        name, rest = m.groups()
        for val, unit in re.findall(r'([\d.]+) (\S+)', rest):
            rows[name][unit].append(float(val))


def vals(name, unit):
    return rows.get(name, {}).get(unit, [])


def med(name, unit):
    v = vals(name, unit)
    return statistics.median(v) if v else None


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


if any(k.startswith("Forwarding/") for k in rows):
    print("| throughput (MB/s) | mode | ser2net | Gonaut (own process) | ratio | Gonaut (embedded) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for d in ["to-device", "from-device"]:
        for mode in ["raw", "rfc2217"]:
            s = med(f"Forwarding/{d}/{mode}/ser2net", "MB/s")
            p = med(f"Forwarding/{d}/{mode}/gonaut-proc", "MB/s")
            g = med(f"Forwarding/{d}/{mode}/gonaut", "MB/s")
            if s is None:
                continue
            print(f"| {d} | {mode} | {s:.1f} | {fmt(p, '.1f')} | {fmt(p and p / s, '.2f')}× | {fmt(g, '.1f')} | {fmt(g and g / s, '.2f')}× |")
    print()
    print("| server CPU per 32 KiB block (µs) | mode | ser2net | Gonaut (own process) | ratio |")
    print("|---|---|---|---|---|")
    for d in ["to-device", "from-device"]:
        for mode in ["raw", "rfc2217"]:
            s = med(f"Forwarding/{d}/{mode}/ser2net", "server-cpu-µs/op")
            p = med(f"Forwarding/{d}/{mode}/gonaut-proc", "server-cpu-µs/op")
            if s:
                print(f"| {d} | {mode} | {s:.0f} | {fmt(p, '.0f')} | {fmt(p and p / s, '.2f')}× |")
    print()
    print("| sequential round trip (µs) | mode | ser2net p50 / p99 / CPU | Gonaut own process p50 / p99 / CPU | Gonaut embedded p50 / p99 |")
    print("|---|---|---|---|---|")
    for mode in ["raw", "rfc2217"]:
        f = lambda t, q: fmt(med(f"Forwarding/rtt/{mode}/{t}", f"{q}-µs"), ".0f")
        c = lambda t: fmt(med(f"Forwarding/rtt/{mode}/{t}", "server-cpu-µs/op"), ".0f")
        print(f"| rtt | {mode} | {f('ser2net', 'p50')} / {f('ser2net', 'p99')} / {c('ser2net')} | {f('gonaut-proc', 'p50')} / {f('gonaut-proc', 'p99')} / {c('gonaut-proc')} | {f('gonaut', 'p50')} / {f('gonaut', 'p99')} |")
    print()

if any(k.startswith("RTTInterleaved/") for k in rows):
    print("| interleaved round trip | mode | ser2net | Gonaut | ratio (median of rounds) | ratio range | rounds |")
    print("|---|---|---|---|---|---|---|")
    for mode in ["raw", "rfc2217"]:
        name = f"RTTInterleaved/{mode}"
        for q, label in [("p50", "p50 (µs)"), ("p99", "p99 (µs)"), ("p99.9", "p99.9 (µs)"), ("cpu", "server CPU (µs)")]:
            unit = "cpu-µs/op" if q == "cpu" else f"{q}-µs"
            s = med(name, f"ser2net-{unit}")
            g = med(name, f"gonaut-proc-{unit}")
            r = vals(name, f"ratio-{q}")
            if s is None or not r:
                continue
            print(f"| {label} | {mode} | {s:.0f} | {g:.0f} | {statistics.median(r):.2f}× | {min(r):.2f}–{max(r):.2f}× | {len(r)} |")
