"""A TOKEN authorizer whose token picks a behaviour, for the gateway's tests."""
import os
import time


def policy(effect, resource, context=None):
    out = {
        'principalId': 'tester',
        'policyDocument': {
            'Version': '2012-10-17',
            'Statement': [{'Action': 'execute-api:Invoke', 'Effect': effect, 'Resource': resource}],
        },
    }
    if context is not None:
        out['context'] = context
    return out


def handler(event, context):
    token = event['authorizationToken']
    arn = event['methodArn']
    api = arn.split('/')[0] + '/' + arn.split('/')[1]
    print('invoked with', token)
    if token == 'allow':
        return policy('Allow', api + '/*/*', {'tier': 'gold', 'limit': 10, 'beta': False})
    if token == 'noisy':
        # Control characters a log must not carry raw: NUL, CR, an ANSI escape, a C1 NEL.
        print('noisy a\x00b\rc\x1b[2Jd\x85e', flush=True)
        return policy('Allow', api + '/*/*')
    if token == 'deny':
        return policy('Deny', api + '/*/*')
    if token == 'only-this-method':
        # The method ARN of this request only: a cached copy refuses other methods.
        return policy('Allow', arn)
    if token == 'unauthorized':
        raise Exception('Unauthorized')
    if token == 'nested-context':
        return policy('Allow', api + '/*/*', {'user': {'id': 1}})
    if token == 'no-principal':
        return {'policyDocument': policy('Allow', '*')['policyDocument']}
    if token == 'sleep':
        time.sleep(30)
    if token == 'nap':
        time.sleep(2)
    if token == 'crash':
        os._exit(3)
    raise Exception('Error: Invalid token')
