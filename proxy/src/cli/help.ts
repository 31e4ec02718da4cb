// cli/help.ts — the help of every command, written by hand: `drawbridge help COMMAND` and `drawbridge COMMAND --help`
// print it without running the command (so `keygen --help` never makes a key).

export const USAGE = `Usage: drawbridge <command> [options]

Commands:
  serve [--config FILE]          run the proxy (default; FILE defaults to config/drawbridge.yaml)
  validate FILE                  check a configuration; every error as FILE:LINE:COL: message
  explain FILE --url URL [...]   show the matched route, the decision and every rule's reason
  test FILE TESTS.yaml           run policy unit tests; prints "N passed, N failed"
  doctor --config FILE           check the IdP as configured (discovery, keys, client credentials,
                                 redirect URIs); prints what to fix
  schema [--tests]               print the JSON Schema of the configuration (or of a tests file)
  keygen                         print a new ES256 signing key (PEM) and a random session secret
  sessions list|revoke [--user U|--all] --config FILE
                                 list or end sessions in the configured store
  grants list|revoke [--id ID|--user U|--all] --config FILE
                                 list or end just-in-time access grants
  help COMMAND                   explain one command (same as: drawbridge COMMAND --help)

Options:
  --version, -v                  print the version
  --help, -h                     print this help

Exit codes: 0 success; 1 the command ran and the answer is no (invalid file, failed test, denied request);
2 the command line is wrong. Details: drawbridge help COMMAND.
`;

export const HELP: Record<string, string> = {
  serve: `Usage: drawbridge serve [--config FILE]

Runs the proxy: the proxy listener (listen), the admin listener (admin.listen: /metrics /healthz /readyz) and the
sign-in pages. This is the default command.

Options:
  --config FILE, -c FILE   the configuration (default: $DRAWBRIDGE_CONFIG, else config/drawbridge.yaml)

Signals:
  SIGHUP                   reload the configuration (also done when the file's content changes, checked every 2 s);
                           an invalid file is refused and the running configuration stays
  SIGTERM, SIGINT          stop accepting connections, let requests in flight finish (up to 10 s), log
                           "event: shutdown" and exit 0; a second signal stops at once

Exit codes:
  0  stopped by SIGTERM/SIGINT
  1  the configuration is invalid, or a listener cannot bind (address in use, privileged port)
  2  unknown option
`,
  validate: `Usage: drawbridge validate [--strict-env] FILE...

Checks configuration files offline: YAML syntax, unknown keys, types, and the semantic checks (duplicate routes,
unknown policies, invalid CIDRs and regexes, routes no request can reach), and reads the TLS files they name (key
and certificate match, expiry, names, chain: docs/tls.md). Every error is printed as FILE:LINE:COL: message. A
missing \${NAME} environment variable, or a TLS file that does not exist on this machine, is a warning, unless
--strict-env.

Options:
  --strict-env             a missing environment variable or TLS file is an error (what serve requires)

Exit codes:
  0  every file is valid
  1  a file has errors (each printed)
  2  no file given
`,
  explain: `Usage: drawbridge explain FILE --url URL [options]

Replays one request offline against the configuration in FILE, through the same steps the server takes
(normalize, match, decide), and prints the client address used, the matched route, the decision (allow, deny,
sign-in, step-up) and the reason of every rule that took part. Without --user or --email the request is anonymous.

Options:
  --url URL                the absolute URL requested (required)
  --method M               the method (default GET)
  --ip IP                  the client address (default 127.0.0.1, shown in the output); "unknown" replays a client
                           whose address is unknown (a trusted proxy sent no usable X-Forwarded-For)
  --time ISO               the instant of the request (default now), e.g. 2026-12-05T17:59:59Z
  --user U                 the signed-in user name
  --email E                their email (verified unless --email-unverified)
  --email-unverified       the IdP did not verify the email
  --name N                 their display name
  --groups a,b             their groups
  --claim NAME=VALUE       an ID token claim; repeatable (a repeated NAME makes a list). VALUE is read as JSON
                           when it is JSON (3, true, ["a","b"], {"x":1}), else as a string: level=3 is the number 3,
                           level='"3"' the string "3"
  --amr a,b                authentication methods (e.g. pwd,otp; mfa rules look here)
  --acr X                  the authentication context class
  --auth-age 5m            how long ago the user signed in (default 0s)
  --session-ip IP          where the user's session was started (default: --ip), for context rules
  --signal KIND[*N][@AGO]  a risk signal of the session, for risk rules; repeatable. KIND is context-change,
                           new-network or denial; *N repeats it, @AGO dates it (default now): denial*6@30s
  --device-cert PEM        the request's device certificate (taken as verified: its chain is not checked), for
                           device rules and sessions bound to a device

Exit codes:
  0  allow (the request would be forwarded)
  1  deny, sign-in, step-up, or no route / method not allowed / bad request
  2  the command line is wrong (missing FILE or --url, invalid --ip, --time or --claim), or FILE is invalid
`,
  test: `Usage: drawbridge test FILE TESTS.yaml

Runs policy unit tests: each case in TESTS.yaml is a request, an identity and the expected decision, replayed
offline against the configuration in FILE like "explain" does. Prints each failure at its FILE:LINE:COL and
"N passed, N failed". The tests file format is in docs/policy-tests.md; its JSON Schema is
config/drawbridge-tests.schema.json (drawbridge schema --tests).

Exit codes:
  0  every test passed
  1  a test failed, or FILE or TESTS.yaml is invalid
  2  a file name is missing
`,
  doctor: `Usage: drawbridge doctor --config FILE

Talks to the configured identity provider the way serve will, and says what to fix: discovery (the issuer URL and
the issuer it advertises), its signing keys (jwks_uri) and algorithms, the client credentials and token endpoint
auth method (a token request with a code that cannot be valid: invalid_grant means the client authenticated,
invalid_client that it did not), and the redirect and post-logout URIs Drawbridge will send. Nothing is changed and
no user is involved.

Options:
  --config FILE, -c FILE   the configuration (environment variables must be set as for serve)

Exit codes:
  0  every check passed
  1  a check failed (each failure is printed with what to fix), or the configuration is invalid
  2  usage error
`,
  schema: `Usage: drawbridge schema [--tests]

Prints a JSON Schema (draft 2020-12) for editors: of the configuration (config/drawbridge.schema.json), or with
--tests of a policy tests file (config/drawbridge-tests.schema.json). Point an editor at it with a first line
"# yaml-language-server: $schema=PATH".

Exit codes:
  0  printed
`,
  keygen: `Usage: drawbridge keygen

Prints a new ES256 signing key for assertion.keyFile (PKCS#8 PEM; keep it secret), its public key (for
assertion.previousKeys after a rotation), and a random session secret for session.secret. Nothing is written
to disk: redirect the parts you need, e.g. drawbridge keygen > keys.txt, then split it.

Exit codes:
  0  printed
`,
  sessions: `Usage: drawbridge sessions list [--user U] [--json] --config FILE
       drawbridge sessions revoke (--user U | --all) --config FILE

Lists or ends the sessions in the store FILE configures. A Redis store is reached directly; a memory store lives
in the running Drawbridge, reached through its admin listener (admin.listen).

Options:
  --config FILE, -c FILE   the configuration (required)
  --user U                 only this user's sessions
  --all                    revoke every session
  --json                   list as JSON

Exit codes:
  0  listed or revoked
  1  the store or the admin listener did not answer, or FILE is invalid
  2  the command line is wrong
`,
  grants: `Usage: drawbridge grants list [--user U] [--json] --config FILE
       drawbridge grants revoke (--id ID | --user U | --all) --config FILE

Lists or ends the active just-in-time access grants (docs/access-requests.md) in the store FILE configures. A
Redis store is reached directly; a memory store lives in the running Drawbridge, reached through its admin
listener (admin.listen: GET /grants, POST /grants/revoke). A revoked grant's WebSockets are closed.

Options:
  --config FILE, -c FILE   the configuration (required)
  --id ID                  only this grant
  --user U                 only this user's grants
  --all                    revoke every grant
  --json                   list as JSON

Exit codes:
  0  listed or revoked
  1  the store or the admin listener did not answer, or FILE is invalid
  2  the command line is wrong
`,
  help: `Usage: drawbridge help [COMMAND]

Prints the list of commands, or the help of one command (same as drawbridge COMMAND --help).

Exit codes:
  0  printed
  2  unknown command
`,
};
