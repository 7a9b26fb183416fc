"""TOKEN authorizer for bench/lambda.sh, run by Portcullis through the Lambda Runtime API
(awslambdaric). The bench's own copy of the logic in examples/lambda-authorizer, so the bench
does not change when the example does; bench/serverless/authorizer.js is the same in Node.

    allow         -> Allow execute-api:Invoke on arn:aws:execute-api:REGION:ACCT:API/STAGE/*/*
    deny          -> Deny on the same resource
    unauthorized  -> raise "Unauthorized" (API Gateway: 401)
    anything else -> raise another error (API Gateway: 500)
"""


def _policy(effect, method_arn):
    # methodArn: arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH
    arn, aws, service, region, account, rest = method_arn.split(":", 5)
    api, stage = rest.split("/")[:2]
    return {
        "principalId": "user",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": effect,
                    "Resource": f"{arn}:{aws}:{service}:{region}:{account}:{api}/{stage}/*/*",
                }
            ],
        },
        "context": {"stringKey": "hello", "numberKey": 42, "booleanKey": True},
    }


def handler(event, context):
    token = event.get("authorizationToken")
    if token == "allow":
        return _policy("Allow", event["methodArn"])
    if token == "deny":
        return _policy("Deny", event["methodArn"])
    if token == "unauthorized":
        raise Exception("Unauthorized")
    raise Exception("Error: Invalid token")
