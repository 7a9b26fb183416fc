"""Verifies a Portcullis token with PyJWT, fetching the signing key from the gateway's JWKS.

Usage: verify_jwt.py JWKS_URL ISSUER ALGORITHM TOKEN [AUDIENCE]
Prints the verified claims as JSON; exits non-zero (with PyJWT's error) if verification fails.
"""
import json
import sys

import jwt


def main() -> int:
    jwks_url, issuer, algorithm, token = sys.argv[1:5]
    audience = sys.argv[5] if len(sys.argv) > 5 else None
    client = jwt.PyJWKClient(jwks_url, cache_keys=False, timeout=5)
    key = client.get_signing_key_from_jwt(token)
    options = {"require": ["exp", "iat", "iss", "sub"], "verify_aud": audience is not None}
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[algorithm],
        issuer=issuer,
        audience=audience,
        options=options,
    )
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
