"""A Lambda proxy integration's handler for the gateway's tests: what it answers depends on
the last segment of the request path, so one function covers every case."""

import base64
import json
import time


def handler(event, context):
    path = event.get("rawPath") or event.get("path") or ""
    what = path.rstrip("/").rsplit("/", 1)[-1]
    if what == "echo":
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "request_id": context.aws_request_id}),
        }
    if what == "created":
        return {
            "statusCode": 201,
            "headers": {"x-single": "one", "content-type": "text/plain"},
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "x-multi": ["m1", "m2"]},
            "body": "made",
        }
    if what == "length":
        body = event.get("body") or ""
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        return {"statusCode": 200, "body": str(len(raw)) + ":" + raw[:4].hex()}
    if what == "png":
        return {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\xff").decode(),
            "isBase64Encoded": True,
        }
    if what == "malformed":
        return {"statusCode": "not-a-number", "body": "x"}
    if what == "unknown-key":
        return {"statusCode": 200, "body": "x", "extra": True}
    if what == "raise":
        raise RuntimeError("the secret database password is hunter2")
    if what == "slow":
        time.sleep(3)
        return {"statusCode": 200, "body": "late"}
    if what == "inferred":
        return {"items": [1, 2], "ok": True}
    if what == "text":
        return "just text"
    if what == "cookies":
        return {"statusCode": 200, "cookies": ["c1=x; Path=/", "c2=y"], "body": "jar"}
    if what == "framing":
        return {
            "statusCode": 200,
            "headers": {"content-length": "999", "connection": "close", "x-ok": "1"},
            "body": "framed",
        }
    return {"statusCode": 404, "body": "no case " + what}
