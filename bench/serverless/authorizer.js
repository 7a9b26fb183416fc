// TOKEN authorizer for the serverless-offline baseline of bench/lambda.sh. Same logic as
// bench/lambda/token_authorizer.py (the Python one Portcullis runs):
//   allow        -> Allow execute-api:Invoke on arn:aws:execute-api:REGION:ACCT:API/STAGE/*/*
//   deny         -> Deny on the same resource
//   unauthorized -> throw "Unauthorized" (API Gateway: 401)
//   anything else-> throw another error (API Gateway: 500; serverless-offline answers 401)
"use strict";

function policy(effect, methodArn) {
  // methodArn: arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH
  const [arn, aws, service, region, account, rest] = methodArn.split(":");
  const [api, stage] = rest.split("/");
  return {
    principalId: "user",
    policyDocument: {
      Version: "2012-10-17",
      Statement: [
        {
          Action: "execute-api:Invoke",
          Effect: effect,
          Resource: `${arn}:${aws}:${service}:${region}:${account}:${api}/${stage}/*/*`,
        },
      ],
    },
    context: { stringKey: "hello", numberKey: 42, booleanKey: true },
  };
}

exports.handler = async (event) => {
  switch (event.authorizationToken) {
    case "allow":
      return policy("Allow", event.methodArn);
    case "deny":
      return policy("Deny", event.methodArn);
    case "unauthorized":
      throw new Error("Unauthorized");
    default:
      throw new Error("Error: Invalid token");
  }
};
