"""Verifies Drawbridge's identity assertion (the X-Drawbridge-Assertion header, an ES256 JWT).

Standard library plus `cryptography` (Debian/Ubuntu: python3-cryptography; pip: cryptography), which the
standard library lacks for ECDSA. Thread-safe; keep one DrawbridgeVerifier per process.
"""
import base64
import json
import re
import threading
import time
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

LEEWAY = 30  # seconds of clock difference tolerated on exp, iat and nbf
REFETCH_COOLDOWN = 30  # an unknown kid fetches the JWKS again at most once per this many seconds
MAX_AGE = 600  # the keys are fetched again when they are older than this (a removed key stops being trusted)
MAX_JWKS_BYTES = 1 << 20


class InvalidAssertion(Exception):
    """The assertion is missing, malformed, forged, expired or meant for another application."""


def _b64url(part):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", part):
        raise InvalidAssertion("not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except ValueError:
        raise InvalidAssertion("not base64url") from None


def _json_object(data):
    try:
        value = json.loads(data)
    except ValueError:
        raise InvalidAssertion("not JSON") from None
    if not isinstance(value, dict):
        raise InvalidAssertion("not a JSON object")
    return value


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class DrawbridgeVerifier:
    """verify(token) returns the claims of a valid assertion, or raises InvalidAssertion."""

    def __init__(self, jwks_url, issuer, audience, cooldown=REFETCH_COOLDOWN, clock=time.time):
        self.jwks_url = jwks_url  # https://<publicUrl>/.drawbridge/jwks.json
        self.issuer = issuer  # Drawbridge's publicUrl, e.g. https://auth.example.com
        self.audience = audience  # this application's route origin, e.g. https://wiki.example.com
        self.cooldown = cooldown
        self.clock = clock
        self._keys = {}
        self._fetched_at = None
        self._lock = threading.Lock()

    def _fetch(self, now):
        self._fetched_at = now  # also when it fails: an unreachable JWKS is not asked again at every request
        with urllib.request.urlopen(self.jwks_url, timeout=5) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            body = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("JWKS too large")
        keys = {}
        for jwk in _json_object(body).get("keys", []):
            if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
                continue
            if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or jwk.get("alg", "ES256") != "ES256" or jwk.get("use", "sig") != "sig":
                continue
            try:
                x, y = _b64url(jwk["x"]), _b64url(jwk["y"])
                if len(x) != 32 or len(y) != 32:
                    continue
                # Raises ValueError for a point that is not on the curve.
                keys[jwk["kid"]] = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
            except (KeyError, TypeError, ValueError, InvalidAssertion):
                continue
        self._keys = keys

    def _key(self, kid, now):
        with self._lock:
            stale = self._fetched_at is None or now - self._fetched_at >= MAX_AGE
            if stale or (kid not in self._keys and now - self._fetched_at >= self.cooldown):
                try:
                    self._fetch(now)
                except (OSError, ValueError, InvalidAssertion) as error:
                    if stale:
                        self._keys = {}  # fail closed: keys too old to trust and no fresh ones
                    raise InvalidAssertion(f"cannot fetch the JWKS: {error}") from None
            key = self._keys.get(kid)
        if key is None:
            raise InvalidAssertion(f"unknown kid {kid!r}")
        return key

    def verify(self, token, now=None):
        now = self.clock() if now is None else now
        parts = (token or "").split(".")
        if len(parts) != 3:
            raise InvalidAssertion("not a JWS compact token")
        header = _json_object(_b64url(parts[0]))
        if header.get("alg") != "ES256":  # never "none", never HS256 with the public key as secret
            raise InvalidAssertion(f"alg {header.get('alg')!r} is not ES256")
        if not isinstance(header.get("kid"), str) or "crit" in header:
            raise InvalidAssertion("no kid, or a crit header")
        key = self._key(header["kid"], now)
        payload, signature = _b64url(parts[1]), _b64url(parts[2])
        if len(signature) != 64:  # JWS ECDSA: r || s, 32 bytes each
            raise InvalidAssertion("bad signature length")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            key.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise InvalidAssertion("bad signature") from None
        claims = _json_object(payload)
        if claims.get("iss") != self.issuer:
            raise InvalidAssertion(f"iss {claims.get('iss')!r} is not {self.issuer!r}")
        aud = claims.get("aud")
        if aud != self.audience and not (isinstance(aud, list) and self.audience in aud):
            raise InvalidAssertion(f"aud {aud!r} is not {self.audience!r}")
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", 0)
        if not (_number(exp) and _number(iat) and _number(nbf)):
            raise InvalidAssertion("exp or iat missing, or not numbers")
        if now >= exp + LEEWAY:
            raise InvalidAssertion("expired")
        if iat > now + LEEWAY or nbf > now + LEEWAY:
            raise InvalidAssertion("issued in the future")
        return claims

    def verify_headers(self, headers):
        """The claims of a request's assertion, from a mapping of its headers (Flask/Django request.headers)."""
        return self.verify(headers.get("X-Drawbridge-Assertion", ""))
