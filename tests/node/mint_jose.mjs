// Mints an RS256 token with the `jose` package, for the external-issuer tests.
// Usage: node mint_jose.mjs ISSUER AUDIENCE PRIVATE_JWK_JSON
import { SignJWT, importJWK } from "jose";

const [issuer, audience, jwkText] = process.argv.slice(2);
const jwk = JSON.parse(jwkText);
const key = await importJWK(jwk, "RS256");
const token = await new SignJWT({ scope: "pets/read", groups: ["viewers"] })
  .setProtectedHeader({ alg: "RS256", kid: jwk.kid, typ: "JWT" })
  .setIssuer(issuer)
  .setAudience(audience)
  .setSubject("jose-user")
  .setIssuedAt()
  .setExpirationTime("10m")
  .sign(key);
process.stdout.write(token);
