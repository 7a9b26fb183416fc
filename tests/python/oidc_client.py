"""Reads the gateway's OIDC discovery document with Authlib and uses what it finds.

Usage: oidc_client.py BASE_URL M2M_CLIENT_ID M2M_SECRET REFRESH_TOKEN

BASE_URL is where the test reaches the gateway; the document's URLs are built on the
configured issuer, so their origin is swapped for BASE_URL. Checks, with Authlib's own code:
the metadata validates as OpenID Provider metadata (every field Authlib knows, except
response_types_supported, which is empty because there is no authorization endpoint);
client_credentials works with client_secret_basic and client_secret_post; a wrong secret is
invalid_client; the refresh_token grant rotates; userInfo answers for the user's token; and
every token verifies against the JWKS at jwks_uri with the discovered issuer.
Prints a JSON summary and exits 0, or raises.
"""
import json
import os
import sys

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

import requests  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session, OAuthError  # noqa: E402
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oidc.discovery import OpenIDProviderMetadata  # noqa: E402

TIMEOUT = 10


def main() -> int:
    base, m2m_id, m2m_secret, refresh_token = sys.argv[1:5]
    doc = requests.get(f"{base}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    issuer = doc["issuer"]

    def local(url):
        assert url.startswith(issuer + "/"), url
        return base + url[len(issuer):]

    meta = OpenIDProviderMetadata(doc)
    skipped = {"validate_response_types_supported"}
    checked = []
    for name in dir(meta):
        if name.startswith("validate_") and name not in skipped and callable(getattr(meta, name)):
            getattr(meta, name)()
            checked.append(name)
    assert doc["response_types_supported"] == [], doc
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]

    keys = JsonWebKey.import_key_set(requests.get(local(doc["jwks_uri"]), timeout=TIMEOUT).json())

    def verify(token, **expected):
        claims = jwt.decode(
            token,
            keys,
            claims_options={"iss": {"essential": True, "value": issuer}},
        )
        claims.validate()
        for k, v in expected.items():
            assert claims[k] == v, (k, claims[k], v)
        return claims

    token_url = local(doc["token_endpoint"])
    # client_credentials, both client authentication methods
    for method in ("client_secret_basic", "client_secret_post"):
        s = OAuth2Session(m2m_id, m2m_secret, token_endpoint_auth_method=method, scope="pets/read")
        t = s.fetch_token(token_url, grant_type="client_credentials", timeout=TIMEOUT)
        assert t["token_type"] == "Bearer" and t["expires_in"] > 0, t
        verify(t["access_token"], client_id=m2m_id, sub=m2m_id, token_use="access", scope="pets/read")
    bad = OAuth2Session(m2m_id, m2m_secret + "x", token_endpoint_auth_method="client_secret_basic")
    try:
        bad.fetch_token(token_url, grant_type="client_credentials", timeout=TIMEOUT)
        raise AssertionError("a wrong secret was accepted")
    except OAuthError as e:
        assert e.error == "invalid_client", e

    # refresh_token grant for the public default client, then userInfo
    user = OAuth2Session("portcullis", token_endpoint_auth_method="none")
    t = user.refresh_token(token_url, refresh_token=refresh_token, timeout=TIMEOUT)
    assert t["refresh_token"] != refresh_token, "refresh tokens rotate"
    idc = verify(t["id_token"], aud="portcullis", token_use="id")
    info = user.get(local(doc["userinfo_endpoint"]), timeout=TIMEOUT)
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == idc["sub"], (info.json(), idc)

    print(json.dumps({"ok": True, "validated": len(checked), "username": info.json()["username"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
