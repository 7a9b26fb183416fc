#!/usr/bin/env python3
"""Drives gateways at a fixed total rate and counts what they admit.

Usage: limits_accuracy.py --ports 18083,18084 --rate 3000 --seconds 20 [--conns 48] [--path /bench/path]

Keep-alive HTTP/1.1 connections, spread over the ports, each sending on its own schedule so
that together they offer `--rate` requests a second. Prints one JSON line: requests offered
and answered, 200s and 429s, the admitted rate over the whole run and over its steady part
(after the first 2 seconds, when the bucket's burst is spent), and the offered rate reached.
"""
import argparse
import asyncio
import json
import time


async def worker(port, path, interval, start, until, stats, times):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: accuracy\r\n\r\n".encode()
    n = 0
    loop = asyncio.get_running_loop()
    while True:
        due = start + n * interval
        if due >= until:
            break
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        stats[status] = stats.get(status, 0) + 1
        if status == 200:
            times.append(loop.time() - start)
        n += 1
    writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ports", required=True)
    p.add_argument("--rate", type=float, default=3000)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--conns", type=int, default=48)
    p.add_argument("--path", default="/bench/path")
    a = p.parse_args()
    ports = [int(x) for x in a.ports.split(",")]
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    until = start + a.seconds
    interval = a.conns / a.rate
    stats, times = {}, []
    tasks = []
    for i in range(a.conns):
        # Stagger the connections so that the offered load is even.
        offset = interval * i / a.conns
        tasks.append(worker(ports[i % len(ports)], a.path, interval, start + offset, until, stats, times))
    wall = time.monotonic()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - wall - 0.5
    answered = sum(stats.values())
    steady = [t for t in times if t >= 2.0]
    print(json.dumps({
        "ports": ports,
        "offered_rate": a.rate,
        "seconds": a.seconds,
        "answered": answered,
        "reached_rate": round(answered / wall, 1),
        "status": {str(k): v for k, v in sorted(stats.items())},
        "admitted_rate": round(stats.get(200, 0) / a.seconds, 1),
        "admitted_rate_steady": round(len(steady) / (a.seconds - 2.0), 1),
    }))


asyncio.run(main())
