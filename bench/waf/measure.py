#!/usr/bin/env python3
"""Sends the legitimate and attack corpora to one or more WAF targets and prints the comparison.

    python3 bench/waf/measure.py --target crs-pl1=127.0.0.1:18481 --target crs-pl2=127.0.0.1:18482 \
        [--target portcullis=127.0.0.1:18480] [--unavailable portcullis="did not start"] \
        [--limit N] [--concurrency 8] [--out-dir DIR]
    python3 bench/waf/measure.py --report DIR/results.json      # print the table again

Requests go out byte for byte as generated (raw sockets, HTTP/1.1 keep-alive, a small thread
pool, bounded timeouts). Outcomes: 403 is a block; from Portcullis, a 400 is counted apart as
blocked by protocol (on legit traffic it is a false positive); any other 4xx/5xx or no answer
is an error, neither block nor pass, and so is a 403 whose body is API Gateway's "Missing
Authentication Token" (no route matched). Every target gets the same requests.
"""

import argparse
import collections
import concurrent.futures
import http.client
import json
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacks  # noqa: E402
from split import DEV, HELD_OUT, legit_split  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LEGIT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "waf", "legit.jsonl"))
HOST_HEADER = "api.example.com"
COLUMNS = [("portcullis", "Portcullis"), ("crs-pl1", "CRS PL1"), ("crs-pl2", "CRS PL2")]
PROTOCOL_TARGETS = {"portcullis"}   # targets whose 400 counts as blocked by protocol
SAMPLE_SEED = 1


# ----------------------------------------------------------------------------- corpora

def load_legit(path=LEGIT):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            r["corpus"] = "legit"
            r["split"] = legit_split(r["id"])
            out.append(r)
    return out


def load_all(limit=None):
    legit = load_legit()
    atk = list(attacks.attack_requests())
    for r in atk:
        r["corpus"] = "attack"
    if limit:
        rng = random.Random(SAMPLE_SEED)
        if limit < len(legit):
            legit = sorted(rng.sample(legit, limit), key=lambda r: r["id"])
        if limit < len(atk):
            keep = set(rng.sample(range(len(atk)), limit))
            atk = [r for i, r in enumerate(atk) if i in keep]
    return legit + atk


def wire_bytes(r, host=HOST_HEADER):
    target = r["path"] + ("?" + r["query"] if r.get("query") else "")
    lines = [f"{r['method']} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in r["headers"]]
    body = b""
    if "body" in r:
        body = r["body"].encode("utf-8")
    elif "body_b64" in r:
        import base64
        body = base64.b64decode(r["body_b64"])
    if body or r["method"] in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head + body


# ----------------------------------------------------------------------------- sending

class Sender:
    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.local = threading.local()

    def _connect(self):
        s = socket.create_connection((self.host, self.port), timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def _close(self):
        s = getattr(self.local, "sock", None)
        if s is not None:
            try:
                s.close()
            except OSError:
                pass
        self.local.sock = None

    def send(self, method, data):
        for attempt in (0, 1):
            sock = getattr(self.local, "sock", None)
            reused = sock is not None
            if sock is None:
                try:
                    sock = self._connect()
                except OSError as e:
                    return f"error:connect:{type(e).__name__}"
                self.local.sock = sock
            send_failed = False
            try:
                sock.sendall(data)
            except OSError:
                send_failed = True  # the server may have answered and closed early: try to read it
            try:
                resp = http.client.HTTPResponse(sock, method=method)
                resp.begin()
                body = resp.read()
                status = resp.status
                if status == 403 and b"Missing Authentication Token" in body:
                    status = "403-no-route"  # API Gateway's answer for an unrouted request, not a WAF block
                if resp.will_close:
                    self._close()
                return status
            except socket.timeout:
                self._close()
                return "error:timeout"
            except (http.client.HTTPException, OSError) as e:
                self._close()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed: once more on a new one
                return f"error:{'send+' if send_failed else ''}{type(e).__name__}"
        return "error:retry"


def run_target(name, host, port, reqs, wires, concurrency, timeout):
    sender = Sender(host, port, timeout)
    statuses = [None] * len(reqs)
    started = time.monotonic()
    done = [0]
    lock = threading.Lock()

    def one(i):
        statuses[i] = sender.send(reqs[i]["method"], wires[i])
        with lock:
            done[0] += 1
            if done[0] % 5000 == 0:
                print(f"    {name}: {done[0]}/{len(reqs)} ({time.monotonic() - started:.0f} s)", file=sys.stderr)

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(len(reqs))))
    elapsed = time.monotonic() - started
    return statuses, elapsed


# ----------------------------------------------------------------------------- scoring

def outcome(target, corpus, status):
    if isinstance(status, int):
        if status == 403:
            return "block"
        if status == 400 and target in PROTOCOL_TARGETS:
            return "protocol"
        if status < 400:
            return "pass"
    return "error"


def pct(num, den):
    return f"{100.0 * num / den:.1f}%" if den else "–"


class Tally:
    def __init__(self):
        self.n = 0
        self.c = collections.Counter()

    def add(self, o):
        self.n += 1
        self.c[o] += 1


def tally(results, target, split, corpus, key):
    groups = collections.defaultdict(Tally)
    statuses = results["status"][target]
    for r, s in zip(results["requests"], statuses):
        if r["split"] != split or r["corpus"] != corpus:
            continue
        groups[key(r) if key else ""].add(outcome(target, corpus, s))
    return groups


def cell_detection(t, target):
    if not t or not t.n:
        return "–"
    out = pct(t.c["block"], t.n)
    if target in PROTOCOL_TARGETS and t.c["protocol"]:
        out += f" +{pct(t.c['protocol'], t.n)} (400)"
    return out


def cell_fp(t, target):
    if not t or not t.n:
        return "–"
    fp = t.c["block"] + t.c["protocol"]
    return f"{pct(fp, t.n)} ({fp})"


def report(results):
    """One Markdown table: a column per target, a section per split (overall, then by class,
    location and encoding, then false positives by legit kind)."""
    unavailable = results.get("unavailable", {})
    cols = [(k, label) for k, label in COLUMNS if k in results["status"] or k in unavailable]
    cols += [(k, k) for k in results["status"] if k not in dict(COLUMNS)]
    targets_run = [k for k, _ in cols if k in results["status"]]
    labels = dict(cols)
    meta = results["meta"]
    lines = []
    w = lines.append
    w("# WAF detection and false positives")
    w("")
    w(f"{meta['attack_requests']} attack requests ({meta['payloads']} payloads in 8 locations; scanner user agents in "
      f"User-Agent only), {meta['legit_requests']} legitimate requests"
      + (f"; sampled with WAF_BENCH_LIMIT={meta['limit']}" if meta.get("limit") else "") + ".")
    w("Detection: attacks answered 403; for Portcullis, `+x% (400)` is the share its listener refused as malformed. "
      "False positives: legitimate requests answered 403 (or 400 by Portcullis), count in brackets. "
      "Errors: any other 4xx/5xx, or no answer.")
    for k, why in unavailable.items():
        w("")
        w(f"**{labels.get(k, k)}: not measured** ({why}).")
    w("")
    w("| | requests | " + " | ".join(label for _, label in cols) + " |")
    w("|---|---:|" + "---:|" * len(cols))

    def row(name, n, fn):
        w(f"| {name} | {n} | " + " | ".join(fn(k) if k in results["status"] else "n/a" for k, _ in cols) + " |")

    def section(name):
        w(f"| {name} | | " + " | ".join("" for _ in cols) + " |")

    for split, title in ((DEV, "Development split"), (HELD_OUT, "Held-out split")):
        atk = {k: tally(results, k, split, "attack", None).get("") for k in targets_run}
        leg = {k: tally(results, k, split, "legit", None).get("") for k in targets_run}
        n_atk = sum(1 for r in results["requests"] if r["split"] == split and r["corpus"] == "attack")
        n_leg = sum(1 for r in results["requests"] if r["split"] == split and r["corpus"] == "legit")
        section(f"**{title}**")
        row("detection", n_atk, lambda k: cell_detection(atk[k], k))
        row("false positives", n_leg, lambda k: cell_fp(leg[k], k))
        row("attack errors", n_atk, lambda k: pct(atk[k].c["error"], atk[k].n) if atk[k] else "–")
        row("legit errors", n_leg, lambda k: str(leg[k].c["error"]) if leg[k] else "–")
        for title2, corpus, field, fn in (
            ("detection by class", "attack", "class", cell_detection),
            ("detection by location", "attack", "location", cell_detection),
            ("detection by encoding", "attack", "encoding", cell_detection),
            ("false positives by legit kind", "legit", "kind", cell_fp),
        ):
            key = (lambda f: lambda r: r[f])(field)
            groups = {k: tally(results, k, split, corpus, key) for k in targets_run}
            names = collections.Counter(r[field] for r in results["requests"] if r["split"] == split and r["corpus"] == corpus)
            if not names:
                continue
            section(f"*{title2}*")
            order = attacks.LOCATIONS if field == "location" else sorted(names)
            for g in order:
                if g in names:
                    row(g, names[g], lambda k: fn(groups[k].get(g), k))
    errors = {k: collections.Counter(s for s in results["status"][k] if not isinstance(s, int) or s not in (200, 403))
              for k in targets_run}
    if any(errors.values()):
        w("")
        w("Other answers (both splits): " + "; ".join(
            f"{labels.get(k, k)}: " + ", ".join(f"{s} x {n}" for s, n in errors[k].most_common(8))
            for k in targets_run if errors[k]) + ".")
    w("")
    w("Time per target: " + ", ".join(f"{labels.get(k, k)} {results['elapsed'][k]:.0f} s" for k in targets_run) + ".")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main

def parse_target(s):
    name, _, addr = s.partition("=")
    host, _, port = addr.rpartition(":")
    if not name or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=HOST:PORT, got {s!r}")
    return name, host, int(port)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", action="append", type=parse_target, default=[], help="NAME=HOST:PORT (repeatable)")
    ap.add_argument("--unavailable", action="append", default=[], help='NAME="reason": a target shown as not measured')
    ap.add_argument("--limit", type=int, default=int(os.environ.get("WAF_BENCH_LIMIT", "0") or 0),
                    help="sample N legit and N attack requests (seeded); 0 = all")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results", time.strftime("%Y%m%d-%H%M%S")))
    ap.add_argument("--report", help="print the table for an existing results.json and exit")
    args = ap.parse_args()

    if args.report:
        with open(args.report, encoding="utf-8") as f:
            sys.stdout.write(report(json.load(f)))
        return 0
    if not args.target:
        ap.error("no --target")

    reqs = load_all(args.limit or None)
    wires = [wire_bytes(r) for r in reqs]
    n_atk = sum(1 for r in reqs if r["corpus"] == "attack")
    payloads = len({(r["file"], r["line"]) for r in reqs if r["corpus"] == "attack"})
    print(f"==> {len(reqs) - n_atk} legit + {n_atk} attack requests per target", file=sys.stderr)

    results = {
        "meta": {"legit_requests": len(reqs) - n_atk, "attack_requests": n_atk, "payloads": payloads,
                 "limit": args.limit or None, "host_header": HOST_HEADER, "concurrency": args.concurrency,
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S")},
        "unavailable": dict(u.partition("=")[::2] for u in args.unavailable),
        "requests": [{k: r.get(k) for k in ("id", "corpus", "split", "class", "location", "encoding", "kind", "header")
                      if r.get(k) is not None} for r in reqs],
        "status": {},
        "elapsed": {},
    }
    for name, host, port in args.target:
        print(f"==> {name} ({host}:{port})", file=sys.stderr)
        statuses, elapsed = run_target(name, host, port, reqs, wires, args.concurrency, args.timeout)
        results["status"][name] = statuses
        results["elapsed"][name] = elapsed
        print(f"    {name}: {len(reqs)} requests in {elapsed:.0f} s ({len(reqs) / max(elapsed, 1e-9):.0f}/s)", file=sys.stderr)

    text = report(results)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(args.out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)
    print(f"==> raw results: {os.path.relpath(os.path.join(args.out_dir, 'results.json'))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
