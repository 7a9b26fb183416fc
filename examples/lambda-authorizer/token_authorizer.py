"""TOKEN authorizer for the Portcullis Lambda authorizer example.

An ordinary AWS Lambda handler: it runs unchanged on AWS Lambda or locally under
awslambdaric (`python3 -m awslambdaric token_authorizer.handler`). The token decides
the outcome, as in AWS's TOKEN authorizer sample:

    allow         -> IAM policy with Effect Allow
    deny          -> IAM policy with Effect Deny  (API Gateway answers 403)
    unauthorized  -> raise Exception('Unauthorized')  (API Gateway answers 401)
    anything else -> raise Exception('Error: Invalid token')  (API Gateway answers 500)
"""


def handler(event, context):
    token = event['authorizationToken']
    method_arn = event['methodArn']

    if token == 'allow':
        return build_response('user', 'Allow', method_arn)
    if token == 'deny':
        return build_response('user', 'Deny', method_arn)
    if token == 'unauthorized':
        # API Gateway recognises exactly this message and answers 401.
        raise Exception('Unauthorized')
    # Any other failure is an authorizer error: API Gateway answers 500.
    raise Exception('Error: Invalid token')


def api_wildcard(method_arn):
    """arn:aws:execute-api:REGION:ACCT:API/STAGE/VERB/path -> arn:...:API/STAGE/*/*.

    The policy is cached per token (result_ttl), so it must cover every method the
    token may call, not only the one that triggered this invocation.
    """
    prefix, sep, path = method_arn.rpartition(':')
    api_id, stage = (path.split('/') + ['', ''])[:2]
    if not sep or not api_id or not stage:
        raise Exception('Error: Invalid methodArn')
    return f'{prefix}:{api_id}/{stage}/*/*'


def build_response(principal_id, effect, method_arn):
    return {
        'principalId': principal_id,
        'policyDocument': {
            'Version': '2012-10-17',
            'Statement': [
                {
                    'Action': 'execute-api:Invoke',
                    'Effect': effect,
                    'Resource': api_wildcard(method_arn),
                }
            ],
        },
        # Values must be strings, numbers or booleans; integrations see them as
        # $context.authorizer.KEY.
        'context': {
            'stringKey': 'hello',
            'numberKey': 42,
            'booleanKey': True,
        },
    }
