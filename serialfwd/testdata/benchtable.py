# Turns the output of
#   go test -run "^$" -bench "Forwarding|RTTInterleaved" -benchtime 1s -count 3 ./serialfwd/ > bench.txt
# into the Markdown tables of the README (medians of the runs):
#   python3 serialfwd/testdata/benchtable.py bench.txt
import re, sys, statistics, collections
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    m = re.match(r'Benchmark(\S+?)-\d+\s+\d+\s+\S+ ns/op\s+(.*)', line)
    if not m: continue
    name, rest = m.groups()
    for val, unit in re.findall(r'([\d.]+) (\S+)', rest):
        rows[name][unit].append(float(val))
def med(name, unit):
    v = rows.get(name, {}).get(unit)
    return statistics.median(v) if v else None
print("| figure | mode | ser2net | Gonaut (own process) | ratio | Gonaut (embedded) | ratio |")
print("|---|---|---|---|---|---|---|")
for d, unit, better in [("to-device","MB/s","high"),("from-device","MB/s","high")]:
    for mode in ["raw","rfc2217"]:
        s = med(f"Forwarding/{d}/{mode}/ser2net", unit); p = med(f"Forwarding/{d}/{mode}/gonaut-proc", unit); g = med(f"Forwarding/{d}/{mode}/gonaut", unit)
        print(f"| throughput {d} (MB/s) | {mode} | {s:.1f} | {p:.1f} | {p/s:.2f}× | {g:.1f} | {g/s:.2f}× |")
for mode in ["raw","rfc2217"]:
    for q in ["p50","p99"]:
        s = med(f"RTTInterleaved/{mode}", f"ser2net-{q}-µs"); p = med(f"RTTInterleaved/{mode}", f"gonaut-proc-{q}-µs"); g = med(f"RTTInterleaved/{mode}", f"gonaut-{q}-µs")
        print(f"| round trip {q} (µs, interleaved) | {mode} | {s:.0f} | {p:.0f} | {p/s:.2f}× | {g:.0f} | {g/s:.2f}× |")
print()
print("| server CPU per operation (µs) | mode | ser2net | Gonaut (own process) | ratio |")
print("|---|---|---|---|---|")
for d in ["to-device","from-device","rtt"]:
    for mode in ["raw","rfc2217"]:
        s = med(f"Forwarding/{d}/{mode}/ser2net", "server-cpu-µs/op"); p = med(f"Forwarding/{d}/{mode}/gonaut-proc", "server-cpu-µs/op")
        what = "per 32 KiB block" if d != "rtt" else "per round trip"
        print(f"| {d} {what} | {mode} | {s:.0f} | {p:.0f} | {p/s:.2f}× |")
print()
print("| sequential round trip (µs) | mode | ser2net p50/p99 | Gonaut own process p50/p99 | Gonaut embedded p50/p99 |")
print("|---|---|---|---|---|")
for mode in ["raw","rfc2217"]:
    f = lambda t,q: med(f"Forwarding/rtt/{mode}/{t}", f"{q}-µs")
    print(f"| rtt | {mode} | {f('ser2net','p50'):.0f} / {f('ser2net','p99'):.0f} | {f('gonaut-proc','p50'):.0f} / {f('gonaut-proc','p99'):.0f} | {f('gonaut','p50'):.0f} / {f('gonaut','p99'):.0f} |")
