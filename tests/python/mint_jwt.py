"""Mints tokens with PyJWT for the external-issuer tests: two RSA keys (kids "a" and "b"),
a third ("c") that is never published, and an HS256 token.

Usage: mint_jwt.py ISSUER AUDIENCE HMAC_SECRET
Prints JSON: jwks_a, jwks_ab (public JWKS documents), private_a (the private JWK of key a,
for other minting libraries), and tokens: a, a2 (a different token from key a), b, c,
a_expired, a_wrong_aud, hs256.
"""
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def key(kid):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    public.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return private, public


def main():
    issuer, audience, secret = sys.argv[1:4]
    now = int(time.time())
    (pa, ja), (pb, jb), (pc, _) = key("a"), key("b"), key("c")

    def mint(private, kid, **extra):
        claims = {"iss": issuer, "sub": "partner-user", "aud": audience, "iat": now, "exp": now + 600,
                  "scope": "pets/read", "groups": ["viewers"]}
        claims.update(extra)
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})

    private_a = json.loads(RSAAlgorithm.to_jwk(pa))
    private_a.update({"kid": "a", "alg": "RS256"})
    print(json.dumps({
        "jwks_a": {"keys": [ja]},
        "jwks_ab": {"keys": [ja, jb]},
        "private_a": private_a,
        "a": mint(pa, "a"),
        "a2": mint(pa, "a", sub="second-user"),
        "b": mint(pb, "b"),
        "c": mint(pc, "c"),
        "a_expired": mint(pa, "a", iat=now - 7200, exp=now - 3600),
        "a_wrong_aud": mint(pa, "a", aud="someone-else"),
        "hs256": jwt.encode({"iss": "hmac-issuer", "sub": "svc", "exp": now + 600}, secret, algorithm="HS256"),
    }))


if __name__ == "__main__":
    main()
