// The integration behind the authorizer in the serverless-offline baseline of bench/lambda.sh.
// serverless-offline cannot put an authorizer in front of an HTTP proxy (its HTTP_PROXY
// support, `resourceRoutes`, is unauthenticated; `integration: http-proxy` on an http event
// still runs the function), so this lambda-proxy handler answers the nginx upstream's body
// itself: no upstream hop, which favours serverless-offline in the comparison.
"use strict";

exports.handler = async () => ({
  statusCode: 200,
  headers: { "content-type": "text/plain" },
  body: "ok\n",
});
