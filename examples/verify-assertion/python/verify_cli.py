"""Test harness: python3 verify_cli.py JWKS_URL ISSUER AUDIENCE [COOLDOWN_SECONDS]

Reads lines `TOKEN [NOW]` (NOW: seconds since the epoch, instead of the clock) and prints one JSON line for each:
{"ok": true, "claims": {...}} or {"ok": false, "error": "..."}.
"""
import json
import sys

from drawbridge_assertion import DrawbridgeVerifier, InvalidAssertion

jwks_url, issuer, audience = sys.argv[1:4]
cooldown = float(sys.argv[4]) if len(sys.argv) > 4 else 30
verifier = DrawbridgeVerifier(jwks_url, issuer, audience, cooldown=cooldown)
for line in sys.stdin:
    token, _, now = line.strip().partition(" ")
    try:
        result = {"ok": True, "claims": verifier.verify(token, float(now) if now else None)}
    except InvalidAssertion as error:
        result = {"ok": False, "error": str(error)}
    print(json.dumps(result), flush=True)
