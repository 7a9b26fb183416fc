#!/usr/bin/env python3
"""Attack requests for the WAF harness: every payload placed in every location.

Locations: query value, path segment, form field, JSON string value, XML element, multipart
field, header value (User-Agent, Referer or X-Custom) and cookie. For each (payload,
location) one encoding is chosen by a Random seeded with fnv1a64(payload + NUL + location),
so a request never depends on the order, the sample or the other payloads:

    plain         what the location needs to stay valid HTTP and no more (URL contexts
                  percent-encode only what is not allowed raw; an existing %XX is kept)
    url           every byte but [A-Za-z0-9-._~] percent-encoded
    double-url    url, twice
    unicode-u     IIS-style %uXXXX for every non-alphanumeric character
    json-u        JSON \\uXXXX escapes for every non-alphanumeric character (JSON only)
    cdata         the payload in a CDATA section (XML only)
    xml-charref   numeric character references (XML only)
    mixed-case    SQL keywords or HTML tag and attribute names in random case (sqli, xss)
    sql-comments  spaces replaced by /**/ (sqli)
    whitespace    spaces replaced by tab, LF, VT, FF or CR (sqli) or ${IFS} (cmdi)
    html-entities < > " ' ( ) = / : ; & as named, decimal or hex entities (xss)

The transforms (mixed-case ... html-entities) are followed by the location's plain encoding.
Scanner user agents are placed only in the User-Agent header. A payload that is a JSON
object or array goes into JSON bodies as a raw JSON value (NoSQL operators, prototype
pollution), not as a string.

    python3 bench/waf/attacks.py --summary          # counts by class, location, encoding
    python3 bench/waf/attacks.py --out attacks.jsonl
"""

import argparse
import collections
import json
import os
import random
import re
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from split import fnv1a64, payload_split  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "waf"))
CORPUS_DIRS = ["attacks", "attacks-own"]

LOCATIONS = ["query", "path", "form", "json", "xml", "multipart", "header", "cookie"]

# File-name prefix -> class; the longest matching prefix wins.
CLASS_PREFIXES = {
    "sqli": "sqli", "xss": "xss", "cmdi": "cmdi", "traversal": "lfi", "lfi": "lfi",
    "ldapi": "ldapi", "nosqli": "nosqli", "ssti": "ssti", "open-redirect": "open-redirect",
    "ssrf": "ssrf", "log4j": "log4j", "java": "java", "protopollution": "protopollution",
    "scanner": "scanner", "php": "php", "crlf": "crlf",
}

BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
]


def class_of(filename):
    stem = os.path.splitext(os.path.basename(filename))[0]
    best = None
    for prefix, cls in CLASS_PREFIXES.items():
        if stem.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, cls)
    if best is None:
        raise ValueError(f"{filename}: no class for this file name prefix (known: {', '.join(sorted(CLASS_PREFIXES))})")
    return best[1]


class Payload:
    __slots__ = ("raw", "text", "file", "line", "cls", "split")

    def __init__(self, raw, file, line):
        self.raw = raw
        self.text = raw.decode("utf-8")
        self.file = file
        self.line = line
        self.cls = class_of(file)
        self.split = payload_split(raw)


def read_lines(path):
    """Lines as bytes: split on LF, a CR before the LF is part of the line end, empty lines skipped."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            out.append((number, line))
    return out


def load_payloads(data_dir=DATA):
    """Every payload once, in file-name order (attacks/ then attacks-own/); first file wins."""
    seen = set()
    payloads = []
    for sub in CORPUS_DIRS:
        d = os.path.join(data_dir, sub)
        for name in sorted(os.listdir(d)):
            if not name.endswith(".txt"):
                continue
            rel = f"{sub}/{name}"
            for number, raw in read_lines(os.path.join(d, name)):
                if raw in seen:
                    continue
                seen.add(raw)
                payloads.append(Payload(raw, rel, number))
    return payloads


# ----------------------------------------------------------------------------- encodings

HEX = "0123456789abcdefABCDEF"
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left raw by the plain encoding of each URL-like location (besides unreserved).
KEEP = {
    "query": set("!$'()*,;:@/?="),
    "form": set("!$'()*,;:@/?="),
    "path": set("!$&'()*+,;=:@/"),
    # cookie-octet (RFC 6265) minus '%', which is handled as an escape
    "cookie": set(chr(c) for c in range(0x21, 0x7F)) - set('",;\\%'),
}
SPACE_AS_PLUS = {"query", "form"}


def pct_bytes(ch):
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def url_plain(s, location):
    """Percent-encode only what the location does not allow raw; keep existing %XX and %uXXXX."""
    keep = KEEP[location]
    out = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "%":
            two = s[i + 1:i + 3]
            four = s[i + 2:i + 6]
            if len(two) == 2 and all(c in HEX for c in two):
                out.append("%" + two)
                i += 3
                continue
            if s[i + 1:i + 2] in ("u", "U") and len(four) == 4 and all(c in HEX for c in four):
                out.append(s[i:i + 6])
                i += 6
                continue
            out.append("%25")
        elif ch in UNRESERVED or ch in keep:
            out.append(ch)
        elif ch == " " and location in SPACE_AS_PLUS:
            out.append("+")
        else:
            out.append(pct_bytes(ch))
        i += 1
    return "".join(out)


def url_full(s):
    return quote(s, safe="", encoding="utf-8")


def unicode_u(s):
    out = []
    for ch in s:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"%u{ord(ch):04X}")
        else:
            out.append(pct_bytes(ch))
    return "".join(out)


def header_plain(s):
    """Header values: printable ASCII, space and tab raw; CR, LF, other controls and non-ASCII percent-encoded."""
    return "".join(ch if (0x20 <= ord(ch) < 0x7F or ch == "\t") else pct_bytes(ch) for ch in s)


SQL_WORDS = re.compile(
    r"\b(select|union|all|from|where|and|or|not|null|sleep|benchmark|waitfor|delay|order|by|group|having|"
    r"insert|into|update|delete|drop|table|exec|execute|declare|cast|convert|concat|char|substring|"
    r"information_schema|table_name|column_name|version|database|user|like|limit|offset|if|case|when|"
    r"then|else|end|exists|count|values|set|pg_sleep|load_file|outfile|xp_cmdshell)\b", re.I)
HTML_WORDS = re.compile(
    r"(?<![A-Za-z])(script|img|svg|iframe|body|input|details|video|audio|object|embed|marquee|style|"
    r"src|href|onerror|onload|onmouseover|onfocus|onclick|ontoggle|onstart|onbegin|autofocus|"
    r"javascript|vbscript|data|srcdoc|formaction|form|math|a)(?![A-Za-z])", re.I)


def mixed_case(s, cls, rng):
    pattern = SQL_WORDS if cls == "sqli" else HTML_WORDS

    def flip(m):
        word = m.group(0)
        out = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)
        if out == word and any(c.isalpha() for c in word):
            out = word.swapcase()
        return out

    return pattern.sub(flip, s)


def sql_comments(s, rng):
    return re.sub(r" +", lambda m: rng.choice(["/**/", "/**/", "/*x*/", "/*!*/"]), s)


def whitespace(s, cls, rng):
    if cls == "cmdi":
        sep = rng.choice(["${IFS}", "$IFS$9", "\t"])
    else:
        sep = rng.choice(["\t", "\n", "\x0b", "\x0c", "\r"])
    return s.replace(" ", sep)


ENTITY_NAMES = {"<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "(": "&lpar;", ")": "&rpar;",
                "=": "&equals;", "/": "&sol;", ":": "&colon;", ";": "&semi;", "&": "&amp;"}


def html_entities(s, rng):
    out = []
    for ch in s:
        if ch in ENTITY_NAMES:
            form = rng.randrange(4)
            if form == 0:
                out.append(ENTITY_NAMES[ch])
            elif form == 1:
                out.append(f"&#{ord(ch)};")
            elif form == 2:
                out.append(f"&#x{ord(ch):x};")
            else:
                out.append(f"&#{ord(ch):07d};")
        else:
            out.append(ch)
    return "".join(out)


def json_u_string(s):
    return '"' + "".join(ch if (ch.isascii() and ch.isalnum()) else
                         "".join(f"\\u{u:04x}" for u in _utf16(ch)) for ch in s) + '"'


def _utf16(ch):
    cp = ord(ch)
    if cp <= 0xFFFF:
        return [cp]
    cp -= 0x10000
    return [0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)]


def json_u_value(v):
    """Serialize a JSON value with every string (keys too) \\u-escaped."""
    if isinstance(v, str):
        return json_u_string(v)
    if isinstance(v, dict):
        return "{" + ",".join(f"{json_u_string(k)}:{json_u_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(json_u_value(x) for x in v) + "]"
    return json.dumps(v)


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_charref(s):
    return "".join(ch if (ch.isascii() and ch.isalnum()) or ch == " " else f"&#x{ord(ch):x};" for ch in s)


XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def xml_safe(s):
    """XML 1.0 cannot carry most C0 controls, not even as references; those become character references
    to nothing: they are replaced by spaces (an XML parser would reject the document otherwise)."""
    return XML_INVALID.sub(" ", s)


def as_json_value(text):
    """The payload parsed as JSON when it is an object or an array, else None."""
    t = text.strip()
    if not t or t[0] not in "[{":
        return None
    try:
        v = json.loads(t)
    except ValueError:
        return None
    return v if isinstance(v, (dict, list)) else None


# Encodings available per location, before class-specific transforms. "plain" weighs 3.
BASE_ENCODINGS = {
    "query": ["plain", "plain", "plain", "url", "double-url", "unicode-u"],
    "path": ["plain", "plain", "plain", "url", "double-url", "unicode-u"],
    "form": ["plain", "plain", "plain", "url", "double-url", "unicode-u"],
    "cookie": ["plain", "plain", "plain", "url", "double-url", "unicode-u"],
    "header": ["plain", "plain", "plain", "url"],
    "json": ["plain", "plain", "plain", "json-u"],
    "xml": ["plain", "plain", "plain", "cdata", "xml-charref"],
    "multipart": ["plain", "plain", "plain"],
}
CLASS_TRANSFORMS = {
    "sqli": ["mixed-case", "sql-comments", "whitespace"],
    "xss": ["mixed-case", "html-entities"],
    "cmdi": ["whitespace"],
}
TRANSFORMS = {"mixed-case", "sql-comments", "whitespace", "html-entities"}

PARAMS = {
    "open-redirect": ["redirect", "next", "url", "return_to"],
    "ssrf": ["url", "webhook_url", "image_url", "callback"],
    "lfi": ["file", "path", "page", "template"],
    "sqli": ["id", "q", "sort", "user", "category"],
    "xss": ["q", "name", "search", "message"],
    "cmdi": ["host", "ip", "filename", "cmd"],
}
DEFAULT_PARAMS = ["q", "value", "data", "input", "comment"]
PATH_BASES = {
    "lfi": ["/static", "/download", "/api/v1/files"],
}
DEFAULT_PATH_BASES = ["/api/v1/items", "/api/v1/users", "/v1/products", "/api/v1/docs"]


def seeded_rng(payload, location):
    return random.Random(fnv1a64(payload.raw + b"\x00" + location.encode()))


def applicable(payload, location):
    if payload.cls == "scanner":
        return location == "header"
    return True


def base_headers(rng, with_cookie=True):
    h = [["User-Agent", rng.choice(BROWSER_UAS)],
         ["Accept", "application/json, text/plain, */*"],
         ["Accept-Language", "en-US,en;q=0.9"],
         ["Accept-Encoding", "gzip, deflate, br"]]
    if with_cookie:
        h.append(["Cookie", f"sid={rng.getrandbits(128):032x}"])
    return h


def encode_url_like(text, encoding, location):
    if encoding == "url":
        return url_full(text)
    if encoding == "double-url":
        return url_full(url_full(text))
    if encoding == "unicode-u":
        return unicode_u(text)
    return url_plain(text, location)


def build(payload, location):
    """The attack request for (payload, location), or None if the class does not apply there."""
    if not applicable(payload, location):
        return None
    rng = seeded_rng(payload, location)
    cls = payload.cls
    choices = BASE_ENCODINGS[location] + CLASS_TRANSFORMS.get(cls, [])
    if cls == "scanner":
        choices = ["plain"]
    encoding = rng.choice(choices)
    text = payload.text
    if encoding == "mixed-case":
        text = mixed_case(text, cls, rng)
    elif encoding == "sql-comments":
        text = sql_comments(text, rng)
    elif encoding == "whitespace":
        text = whitespace(text, cls, rng)
    elif encoding == "html-entities":
        text = html_entities(text, rng)
    value_enc = "plain" if encoding in TRANSFORMS else encoding
    param = rng.choice(PARAMS.get(cls, DEFAULT_PARAMS))
    out = {"method": "GET", "path": "/", "query": "", "headers": None}
    body = None
    ctype = None

    if location == "query":
        value = encode_url_like(text, value_enc, "query")
        other = rng.choice(["page=1", "lang=en", "limit=20"])
        out["path"] = rng.choice(["/api/v1/search", "/v1/items", "/api/v1/redirect", "/api/v1/render"])
        out["query"] = f"{param}={value}&{other}" if rng.random() < 0.5 else f"{other}&{param}={value}"
        headers = base_headers(rng)
    elif location == "path":
        value = encode_url_like(text, value_enc, "path")
        base = rng.choice(PATH_BASES.get(cls, DEFAULT_PATH_BASES))
        out["path"] = f"{base}/{value}"
        headers = base_headers(rng)
    elif location == "form":
        value = encode_url_like(text, value_enc, "form")
        out["method"] = "POST"
        out["path"] = rng.choice(["/api/v1/comments", "/login", "/api/v1/contact"])
        body = f"name=Anna+Smith&email=anna%40example.com&{param}={value}&submit=Send"
        ctype = "application/x-www-form-urlencoded"
        headers = base_headers(rng)
    elif location == "json":
        out["method"] = rng.choice(["POST", "POST", "PUT", "PATCH"])
        out["path"] = rng.choice(["/api/v1/orders", "/api/v1/profile", "/v1/search", "/api/v1/users/42"])
        raw_json = as_json_value(text)
        if raw_json is not None and value_enc == "json-u":
            value = json_u_value(raw_json)
        elif raw_json is not None:
            value = text.strip()
        elif value_enc == "json-u":
            value = json_u_string(text)
        else:
            value = json.dumps(text, ensure_ascii=False)
        body = '{"name":"Anna Smith","' + param + '":' + value + ',"qty":1}'
        ctype = "application/json"
        headers = base_headers(rng)
    elif location == "xml":
        out["method"] = "POST"
        out["path"] = rng.choice(["/api/v1/orders", "/soap/OrderService", "/api/v1/import"])
        safe = xml_safe(text)
        if value_enc == "cdata":
            value = "<![CDATA[" + safe.replace("]]>", "]]]]><![CDATA[>") + "]]>"
        elif value_enc == "xml-charref":
            value = xml_charref(safe)
        else:
            value = xml_escape(safe)
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<order><customer>Anna Smith</customer>'
                f"<{param}>{value}</{param}><qty>1</qty></order>\n")
        ctype = "application/xml"
        headers = base_headers(rng)
    elif location == "multipart":
        out["method"] = "POST"
        out["path"] = rng.choice(["/api/v1/upload", "/api/v1/attachments"])
        boundary = "----WebKitFormBoundary" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nQuarterly report\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"{param}\"\r\n\r\n{text}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n"
                "Content-Type: text/plain\r\n\r\nMeeting notes: bring the slides.\n\r\n"
                f"--{boundary}--\r\n")
        ctype = f"multipart/form-data; boundary={boundary}"
        headers = base_headers(rng)
    elif location == "header":
        out["path"] = rng.choice(["/api/v1/items", "/v1/orders", "/api/v1/status"])
        name = "User-Agent" if cls == "scanner" else rng.choice(["User-Agent", "Referer", "X-Custom"])
        value = url_full(text) if value_enc == "url" else header_plain(text)
        headers = base_headers(rng)
        if name == "User-Agent":
            headers[0][1] = value
        else:
            headers.append([name, value])
        out["header"] = name
    elif location == "cookie":
        out["path"] = rng.choice(["/api/v1/items", "/v1/account", "/api/v1/cart"])
        value = encode_url_like(text, value_enc, "cookie")
        cname = rng.choice(["prefs", "session_data", "tracking", "lang", "user"])
        headers = base_headers(rng, with_cookie=False)
        headers.append(["Cookie", f"sid={rng.getrandbits(128):032x}; {cname}={value}"])
    else:
        raise ValueError(location)

    if body is not None:
        headers.append(["Content-Type", ctype])
        out["body"] = body
    out["headers"] = headers
    out["encoding"] = encoding
    check_valid(out)
    return out


TARGET_OK = set(chr(c) for c in range(0x21, 0x7F))


def check_valid(r):
    """The request must be sendable as valid HTTP/1.1: a request target of visible ASCII, header values
    without CR, LF or other controls (tab allowed) and ASCII only."""
    target = r["path"] + ("?" + r["query"] if r["query"] else "")
    bad = [c for c in target if c not in TARGET_OK]
    if bad or not r["path"].startswith("/"):
        raise ValueError(f"request target not valid HTTP: {target!r}")
    for name, value in r["headers"]:
        if any((ord(c) < 0x20 and c != "\t") or ord(c) >= 0x7F for c in value):
            raise ValueError(f"header {name} not valid HTTP: {value!r}")


def attack_requests(payloads=None):
    """Every applicable (payload, location) request, as dicts in the legit.jsonl shape plus metadata."""
    if payloads is None:
        payloads = load_payloads()
    for p in payloads:
        for location in LOCATIONS:
            r = build(p, location)
            if r is None:
                continue
            r.update({"id": f"{p.file}:{p.line}:{location}", "class": p.cls, "location": location,
                      "split": p.split, "file": p.file, "line": p.line})
            yield r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write every attack request as JSON lines to this file ('-' for stdout)")
    ap.add_argument("--summary", action="store_true", help="print counts by class, location and encoding")
    args = ap.parse_args()
    payloads = load_payloads()
    reqs = list(attack_requests(payloads))
    if args.out:
        f = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")
        for r in reqs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        if f is not sys.stdout:
            f.close()
    if args.summary or not args.out:
        by = collections.Counter
        cls = by(p.cls for p in payloads)
        held = by(p.cls for p in payloads if p.split != "dev")
        print(f"{len(payloads)} payloads, {len(reqs)} requests", file=sys.stderr)
        for c in sorted(cls):
            print(f"  {c:15} {cls[c]:5} payloads, {held[c]:4} held out", file=sys.stderr)
        print("  by location: " + ", ".join(f"{k} {v}" for k, v in sorted(by(r['location'] for r in reqs).items())), file=sys.stderr)
        print("  by encoding: " + ", ".join(f"{k} {v}" for k, v in sorted(by(r['encoding'] for r in reqs).items())), file=sys.stderr)


if __name__ == "__main__":
    main()
