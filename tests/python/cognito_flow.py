"""Drives the gateway's Cognito-compatible API with boto3's cognito-idp client, unmodified.

Usage: cognito_flow.py ENDPOINT_URL CLIENT_ID USERNAME PASSWORD
Exits 0 and prints a JSON summary when every step behaves as Cognito does; otherwise raises.
"""
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

    print(json.dumps({"ok": True, "username": user["Username"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
