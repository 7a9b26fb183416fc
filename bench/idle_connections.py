"""Opens N keep-alive connections to a gateway, sends one request on each, keeps them idle
and reports the gateway's resident memory (VmRSS and its peak VmHWM) before and after.

Usage: python3 bench/idle_connections.py PID HOST:PORT N [PATH]
Traffic stays on the address given (loopback); every connection is closed at the end.
"""
import asyncio
import resource
import sys


def rss_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


async def one(host, port, path, ready):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    ready.append(writer)


async def main():
    pid, addr, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    path = sys.argv[4] if len(sys.argv) > 4 else "/health"
    host, port = addr.rsplit(":", 1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 1024)), hard))
    before = rss_kib(pid)
    writers = []
    batch = 500
    for start in range(0, n, batch):
        await asyncio.wait_for(
            asyncio.gather(*(one(host, port, path, writers) for _ in range(min(batch, n - start)))),
            timeout=60,
        )
    await asyncio.sleep(1)
    after = rss_kib(pid)
    per = (after["VmRSS"] - before["VmRSS"]) / max(1, len(writers))
    print(f"connections {len(writers)}")
    print(f"rss_before_kib {before['VmRSS']}")
    print(f"rss_after_kib {after['VmRSS']}")
    print(f"rss_peak_kib {after['VmHWM']}")
    print(f"per_connection_kib {per:.1f}")
    for w in writers:
        w.close()


asyncio.run(main())
