#!/usr/bin/env bash
# scripts/testssl.sh — audits Drawbridge's default TLS policy with Debian's testssl.sh (package testssl.sh):
# starts Drawbridge on loopback with a fresh RSA certificate and no tls settings but the files, runs testssl's
# protocol, cipher-category, forward-secrecy and vulnerability checks, and fails when it reports any non-forward-secret
# or CBC suite, an old protocol, or a vulnerability. Usage: scripts/testssl.sh [OUT.json]   (several minutes: 7-8 on a
# busy 2-core machine, so it is not part of .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v testssl >/dev/null || { echo "testssl.sh is not installed (apt-get install testssl.sh)" >&2; exit 2; }
work=$(mktemp -d)
out=${1:-$work/testssl.json}
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# A CA and an RSA leaf for auth.localhost and app.localhost (the most common kind of certificate).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.crt" \
  -subj "/CN=testssl CA" -days 2 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$work/tls.key" -out "$work/tls.csr" -subj "/CN=app.localhost" 2>/dev/null
printf 'subjectAltName=DNS:app.localhost,DNS:auth.localhost\nextendedKeyUsage=serverAuth\n' > "$work/ext"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -set_serial 1 -days 2 -extfile "$work/ext" -out "$work/leaf.crt" 2>/dev/null
cat "$work/leaf.crt" "$work/ca.crt" > "$work/tls.crt"

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$work/drawbridge.yaml" <<YAML
listen: "127.0.0.1:$port"
publicUrl: https://auth.localhost:$port
admin: { listen: "127.0.0.1:0" }
idp: { issuer: "https://127.0.0.1:9", clientId: testssl, clientSecret: not-used }
session: { secret: testssl-session-secret-0123456789abcdef0123456789 }
log: { level: warn }
tls: { certFile: $work/tls.crt, keyFile: $work/tls.key }
routes:
  - { name: app, from: "https://app.localhost", to: "http://127.0.0.1:9", public: true }
YAML
DRAWBRIDGE_FROM_SOURCE=1 node bin/drawbridge.js serve --config "$work/drawbridge.yaml" > "$work/drawbridge.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/drawbridge.log" >&2; exit 1; }
  sleep 0.2
done

# -p protocols, -s cipher categories, -f forward secrecy, -U vulnerabilities.
testssl --quiet --color 0 --warnings off --sneaky --ip 127.0.0.1 -p -s -f -U --jsonfile "$out" "https://app.localhost:$port" > "$work/testssl.txt" || true
node - "$out" <<'JS'
const findings = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const by = new Map(findings.map((f) => [f.id, f]));
const problems = [];
const expect = (id, ok) => {
  const f = by.get(id);
  if (!f) problems.push(`${id}: not reported`);
  else if (!ok(f)) problems.push(`${id}: ${f.severity} ${f.finding}`);
};
for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) expect(id, (f) => /not offered/.test(f.finding));
for (const id of ['TLS1_2', 'TLS1_3']) expect(id, (f) => /^offered/.test(f.finding));
// Suites without forward secrecy or AEAD: NULL, anonymous, export, low, 3DES/IDEA, and the obsoleted CBC ones.
for (const id of ['cipherlist_NULL', 'cipherlist_aNULL', 'cipherlist_EXPORT', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE']) expect(id, (f) => /not offered/.test(f.finding));
// testssl 3.0 calls forward secrecy PFS, 3.1 FS.
expect(by.has('FS') ? 'FS' : 'PFS', (f) => /offered/.test(f.finding) && f.severity === 'OK');
// Every vulnerability check: nothing above INFO/OK (LUCKY13, BEAST, SWEET32, ROBOT, BREACH aside, see below).
const vulns = ['heartbleed', 'CCS', 'ticketbleed', 'ROBOT', 'secure_renego', 'secure_client_renego', 'CRIME_TLS', 'POODLE_SSL', 'fallback_SCSV', 'SWEET32', 'FREAK', 'DROWN', 'LOGJAM', 'BEAST', 'LUCKY13', 'RC4'];
for (const id of vulns) expect(id, (f) => f.severity === 'OK' || f.severity === 'INFO');
// BREACH is about HTTP compression of the response testssl fetches (the 404 page is never compressed).
expect('BREACH', (f) => f.severity === 'OK' || f.severity === 'INFO');
for (const f of findings) if (/CBC/.test(f.finding ?? '') && !/not offered|not vulnerable/.test(f.finding)) problems.push(`${f.id}: ${f.finding}`);
const show = ['SSLv3', 'TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'cipherlist_NULL', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE', 'cipherlist_STRONG', 'PFS', 'FS', 'PFS_ciphers', 'FS_ciphers', 'PFS_ECDHE_curves', 'FS_ECDHE_curves', 'LUCKY13', 'SWEET32', 'BEAST', 'ROBOT', 'BREACH'];
for (const id of show) if (by.has(id)) console.log(`${id.padEnd(20)} ${by.get(id).severity.padEnd(8)} ${by.get(id).finding}`);
if (problems.length) {
  console.error(`testssl: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('testssl: the default policy passes (no non-FS or CBC suite, no old protocol, no flagged vulnerability)');
JS
