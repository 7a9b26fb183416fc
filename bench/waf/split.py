"""The development / held-out split of the WAF corpora, shared by every script here.

A payload is held out iff fnv1a64(payload line bytes) % 3 == 0; the bytes are the raw
UTF-8 line without its terminator (LF, or CRLF: a trailing CR is part of the terminator).
A legitimate request is held out iff fnv1a64(its id, UTF-8) % 3 == 0.
FNV-1a 64-bit: offset basis 0xcbf29ce484222325, prime 0x100000001b3, for each byte
h ^= byte; h = (h * prime) mod 2**64.
"""

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = 0xFFFFFFFFFFFFFFFF

DEV = "dev"
HELD_OUT = "held-out"


def fnv1a64(data: bytes) -> int:
    """FNV-1a, 64 bits, over the given bytes."""
    h = FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & MASK64
    return h


def _as_bytes(value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def payload_held_out(line) -> bool:
    """True when the payload line (bytes or str, without its terminator) is held out."""
    return fnv1a64(_as_bytes(line)) % 3 == 0


def legit_held_out(request_id: str) -> bool:
    """True when the legitimate request with this id is held out."""
    return fnv1a64(_as_bytes(request_id)) % 3 == 0


def payload_split(line) -> str:
    return HELD_OUT if payload_held_out(line) else DEV


def legit_split(request_id: str) -> str:
    return HELD_OUT if legit_held_out(request_id) else DEV


if __name__ == "__main__":
    # Known answers, so another implementation can check itself against this one.
    for sample in ["", "a", "foobar", "' OR 1=1--", "legit-00001"]:
        print(f"{sample!r}: {fnv1a64(sample.encode()):#018x} {fnv1a64(sample.encode()) % 3}")
