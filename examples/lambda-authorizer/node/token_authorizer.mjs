// TOKEN authorizer for the Portcullis Lambda authorizer example, as a Node.js ES module.
// Same logic as ../token_authorizer.py:
//   allow -> Allow policy, deny -> Deny policy (403),
//   unauthorized -> Error('Unauthorized') (401), anything else -> Error('Error: Invalid token') (500).
// Run locally, in this directory, with `npx --no-install aws-lambda-ric token_authorizer.handler`.

export const handler = async (event) => {
  const token = event.authorizationToken;
  switch (token) {
    case 'allow':
      return buildResponse('user', 'Allow', event.methodArn);
    case 'deny':
      return buildResponse('user', 'Deny', event.methodArn);
    case 'unauthorized':
      // API Gateway recognises exactly this message and answers 401.
      throw new Error('Unauthorized');
    default:
      throw new Error('Error: Invalid token');
  }
};

// arn:aws:execute-api:REGION:ACCT:API/STAGE/VERB/path -> arn:...:API/STAGE/*/*.
// The result is cached per token, so it must cover every method, not just this one.
function apiWildcard(methodArn) {
  const arn = String(methodArn ?? '');
  const colon = arn.lastIndexOf(':');
  const [apiId, stage] = arn.slice(colon + 1).split('/');
  if (colon < 0 || !apiId || !stage) {
    throw new Error('Error: Invalid methodArn');
  }
  return `${arn.slice(0, colon)}:${apiId}/${stage}/*/*`;
}

function buildResponse(principalId, effect, methodArn) {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Action: 'execute-api:Invoke', Effect: effect, Resource: apiWildcard(methodArn) },
      ],
    },
    // Strings, numbers and booleans only; integrations read $context.authorizer.KEY.
    context: { stringKey: 'hello', numberKey: 42, booleanKey: true },
  };
}
