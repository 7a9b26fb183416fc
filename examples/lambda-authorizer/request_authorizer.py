"""REQUEST authorizer for the Portcullis Lambda authorizer example.

Allows the request when the HeaderAuth1 header and the QueryString1 query parameter
both carry the expected values; otherwise raises Unauthorized (API Gateway answers
401). Run locally with `python3 -m awslambdaric request_authorizer.handler`.

The expected values come from the function's environment (see `environment:` in
config.yaml), defaulting to headerValue1 and queryValue1.
"""

import os

EXPECTED_HEADER = os.environ.get('EXPECTED_HEADER', 'headerValue1')
EXPECTED_QUERY = os.environ.get('EXPECTED_QUERY', 'queryValue1')


def handler(event, context):
    header = find_header(event.get('headers'), 'HeaderAuth1')
    query = (event.get('queryStringParameters') or {}).get('QueryString1')

    if header != EXPECTED_HEADER or query != EXPECTED_QUERY:
        raise Exception('Unauthorized')

    return {
        'principalId': 'user',
        'policyDocument': {
            'Version': '2012-10-17',
            'Statement': [
                {
                    'Action': 'execute-api:Invoke',
                    'Effect': 'Allow',
                    'Resource': api_wildcard(event['methodArn']),
                }
            ],
        },
        # Integrations see these as $context.authorizer.KEY.
        'context': {
            'authorizer': 'request-authorizer',
            'stage': (event.get('requestContext') or {}).get('stage', ''),
        },
    }


def find_header(headers, name):
    """Header names are case-insensitive; the event's spelling is not guaranteed."""
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return value
    return None


def api_wildcard(method_arn):
    """arn:aws:execute-api:REGION:ACCT:API/STAGE/VERB/path -> arn:...:API/STAGE/*/*."""
    prefix, sep, path = method_arn.rpartition(':')
    api_id, stage = (path.split('/') + ['', ''])[:2]
    if not sep or not api_id or not stage:
        raise Exception('Error: Invalid methodArn')
    return f'{prefix}:{api_id}/{stage}/*/*'
