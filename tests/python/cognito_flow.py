"""Drives the gateway's Cognito-compatible API with boto3's cognito-idp client, unmodified.

Usage: cognito_flow.py ENDPOINT_URL CLIENT_ID USERNAME PASSWORD [SECRET_CLIENT_ID CLIENT_SECRET]

With a confidential client, also checks SECRET_HASH the way Cognito does: required, computed
as base64(HMAC-SHA256(secret, username + client id)).
Exits 0 and prints a JSON summary when every step behaves as Cognito does; otherwise raises.
"""
import base64
import hashlib
import hmac
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, the call succeeded")


def secret_hash(secret, username, client_id):
    mac = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def confidential_flow(idp, client_id, secret, username, password):
    params = {"USERNAME": username, "PASSWORD": password}
    # without SECRET_HASH, and with a wrong one: NotAuthorizedException
    expect_error(
        "NotAuthorizedException", idp.initiate_auth, AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
        AuthParameters=params,
    )
    expect_error(
        "NotAuthorizedException", idp.initiate_auth, AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
        AuthParameters={**params, "SECRET_HASH": secret_hash(secret + "x", username, client_id)},
    )
    r = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
        AuthParameters={**params, "SECRET_HASH": secret_hash(secret, username, client_id)},
    )["AuthenticationResult"]
    r2 = idp.initiate_auth(
        AuthFlow="REFRESH_TOKEN_AUTH", ClientId=client_id,
        AuthParameters={
            "REFRESH_TOKEN": r["RefreshToken"],
            "SECRET_HASH": secret_hash(secret, username, client_id),
        },
    )["AuthenticationResult"]
    # RevokeToken of a confidential client's token needs its secret
    expect_error("NotAuthorizedException", idp.revoke_token, Token=r2["RefreshToken"], ClientId=client_id)
    idp.revoke_token(Token=r2["RefreshToken"], ClientId=client_id, ClientSecret=secret)
    expect_error(
        "NotAuthorizedException", idp.initiate_auth, AuthFlow="REFRESH_TOKEN_AUTH", ClientId=client_id,
        AuthParameters={
            "REFRESH_TOKEN": r2["RefreshToken"],
            "SECRET_HASH": secret_hash(secret, username, client_id),
        },
    )


def main() -> int:
    endpoint, client_id, username, password = sys.argv[1:5]
    idp = boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )

    # USER_PASSWORD_AUTH
    r = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    result = r["AuthenticationResult"]
    assert result["TokenType"] == "Bearer" and result["ExpiresIn"] > 0
    access, refresh = result["AccessToken"], result["RefreshToken"]

    # wrong password and unknown user look the same
    m1 = expect_error(
        "NotAuthorizedException", idp.initiate_auth, AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": password + "x"},
    )
    m2 = expect_error(
        "NotAuthorizedException", idp.initiate_auth, AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
        AuthParameters={"USERNAME": "no-such-user", "PASSWORD": password},
    )
    assert m1 == m2 == "Incorrect username or password.", (m1, m2)

    # GetUser with the access token
    user = idp.get_user(AccessToken=access)
    assert user["Username"].lower() == username.lower(), user
    names = {a["Name"] for a in user["UserAttributes"]}
    assert "sub" in names, names

    # REFRESH_TOKEN_AUTH rotates the refresh token
    r2 = idp.initiate_auth(
        AuthFlow="REFRESH_TOKEN_AUTH", ClientId=client_id, AuthParameters={"REFRESH_TOKEN": refresh}
    )["AuthenticationResult"]
    assert r2["AccessToken"] and r2["IdToken"]
    refresh2 = r2["RefreshToken"]

    # RevokeToken ends that refresh family
    idp.revoke_token(Token=refresh2, ClientId=client_id)
    expect_error(
        "NotAuthorizedException", idp.initiate_auth, AuthFlow="REFRESH_TOKEN_AUTH", ClientId=client_id,
        AuthParameters={"REFRESH_TOKEN": refresh2},
    )

    # GlobalSignOut invalidates the access token for GetUser
    fresh = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    idp.global_sign_out(AccessToken=fresh["AccessToken"])
    expect_error("NotAuthorizedException", idp.get_user, AccessToken=fresh["AccessToken"])
    expect_error(
        "NotAuthorizedException", idp.initiate_auth, AuthFlow="REFRESH_TOKEN_AUTH", ClientId=client_id,
        AuthParameters={"REFRESH_TOKEN": fresh["RefreshToken"]},
    )

    if len(sys.argv) > 6:
        confidential_flow(idp, sys.argv[5], sys.argv[6], username, password)

    print(json.dumps({"ok": True, "username": user["Username"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
