import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { startStack } from './helpers/stack.js';
const s = await startStack();
try {
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/x?snip=1'), 'alice');
  const req = s.app.requests.find((r) => r.url.includes('snip=1'))!;
  const token = String(req.headers['x-drawbridge-assertion']);
  const py = `
import jwt, json, sys
jwks = jwt.PyJWKClient("http://127.0.0.1:${s.port}/.drawbridge/jwks.json")

def drawbridge_user(headers):
    token = headers.get("X-Drawbridge-Assertion", "")
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["ES256"],
                      issuer="${s.publicUrl}", audience="http://app.localhost:${s.port}",
                      options={"require": ["exp", "iat", "iss", "aud", "sub"]})
print(json.dumps(drawbridge_user({"X-Drawbridge-Assertion": sys.argv[1]})))
try:
    drawbridge_user({"X-Drawbridge-Assertion": sys.argv[1][:-4] + "AAAA"})
    print("BAD: forged accepted")
except jwt.PyJWTError as e:
    print("forged refused:", type(e).__name__)
`;
  writeFileSync('/tmp/verify.py', py);
  console.log(execFileSync('/usr/bin/python3', ['/tmp/verify.py', token], { encoding: 'utf8' }));
} finally { await s.close(); }
