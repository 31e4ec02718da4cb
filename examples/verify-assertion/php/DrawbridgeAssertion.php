<?php
// Verifies Drawbridge's identity assertion (the X-Drawbridge-Assertion header, an ES256 JWT) with PHP's openssl
// and json extensions only (php-cli on Debian has both). PHP starts afresh for every request, so the JWKS is cached
// in a file: give one that only the application's user can write (never a shared /tmp path others could plant).

declare(strict_types=1);

final class InvalidAssertion extends Exception
{
}

final class DrawbridgeAssertion
{
    public const LEEWAY = 30;            // seconds of clock difference tolerated on exp, iat and nbf
    public const REFETCH_COOLDOWN = 30;  // an unknown kid fetches the JWKS again at most once per this many seconds
    public const MAX_AGE = 600;          // keys older than this are fetched again (a removed key stops being trusted)
    private const MAX_JWKS_BYTES = 1 << 20;
    // DER of a P-256 SubjectPublicKeyInfo up to the uncompressed point (0x04 || x || y).
    private const SPKI_P256_PREFIX = '3059301306072a8648ce3d020106082a8648ce3d030107034200';

    /** @var array<string, string> kid => public key PEM */
    private array $keys = [];
    private ?float $fetchedAt = null;

    /**
     * @param string $jwksUrl   https://<publicUrl>/.drawbridge/jwks.json
     * @param string $issuer    Drawbridge's publicUrl, e.g. https://auth.example.com
     * @param string $audience  this application's route origin, e.g. https://wiki.example.com
     * @param string $cacheFile where the JWKS is kept between requests (created with mode 0600)
     */
    public function __construct(
        private string $jwksUrl,
        private string $issuer,
        private string $audience,
        private string $cacheFile,
        private float $cooldown = self::REFETCH_COOLDOWN,
    ) {
    }

    /** The claims of the current request's assertion; throws InvalidAssertion. */
    public function fromRequest(): array
    {
        return $this->verify($_SERVER['HTTP_X_DRAWBRIDGE_ASSERTION'] ?? '');
    }

    private static function b64url(string $part): string
    {
        $bytes = preg_match('/^[A-Za-z0-9_-]*$/D', $part) === 1 ? base64_decode(strtr($part, '-_', '+/'), true) : false;
        if ($bytes === false) {
            throw new InvalidAssertion('not base64url');
        }
        return $bytes;
    }

    private static function jsonObject(string $json): array
    {
        $value = json_decode($json, true, 64);
        if (!is_array($value) || array_is_list($value) && $value !== []) {
            throw new InvalidAssertion('not a JSON object');
        }
        return $value;
    }

    private function load(): void
    {
        if ($this->fetchedAt !== null || !is_file($this->cacheFile)) {
            return;
        }
        $cached = json_decode((string) file_get_contents($this->cacheFile), true);
        if (is_array($cached) && is_float($cached['fetchedAt'] ?? null) && is_array($cached['keys'] ?? null)) {
            [$this->fetchedAt, $this->keys] = [$cached['fetchedAt'], $cached['keys']];
        }
    }

    private function save(): void
    {
        $temporary = $this->cacheFile . '.' . bin2hex(random_bytes(6));
        file_put_contents($temporary, json_encode(['fetchedAt' => $this->fetchedAt, 'keys' => $this->keys]));
        chmod($temporary, 0600);
        rename($temporary, $this->cacheFile);
    }

    private function fetch(float $now): void
    {
        $this->fetchedAt = $now; // also when it fails: an unreachable JWKS is not asked again at every request
        $this->save();
        $context = stream_context_create(['http' => ['timeout' => 5, 'ignore_errors' => true]]);
        $body = @file_get_contents($this->jwksUrl, false, $context, 0, self::MAX_JWKS_BYTES + 1);
        $headers = function_exists('http_get_last_response_headers') ? http_get_last_response_headers() : ($http_response_header ?? null);
        $status = isset($headers[0]) && preg_match('{^HTTP/\S+ (\d{3})}', $headers[0], $m) ? (int) $m[1] : 0;
        if ($body === false || $status !== 200 || strlen($body) > self::MAX_JWKS_BYTES) {
            throw new InvalidAssertion("cannot fetch the JWKS (HTTP $status)");
        }
        $keys = [];
        foreach (self::jsonObject($body)['keys'] ?? [] as $jwk) {
            if (!is_array($jwk) || !is_string($jwk['kid'] ?? null) || ($jwk['kty'] ?? '') !== 'EC' || ($jwk['crv'] ?? '') !== 'P-256'
                || ($jwk['alg'] ?? 'ES256') !== 'ES256' || ($jwk['use'] ?? 'sig') !== 'sig' || !is_string($jwk['x'] ?? null) || !is_string($jwk['y'] ?? null)) {
                continue;
            }
            try {
                [$x, $y] = [self::b64url($jwk['x']), self::b64url($jwk['y'])];
            } catch (InvalidAssertion) {
                continue;
            }
            if (strlen($x) !== 32 || strlen($y) !== 32) {
                continue;
            }
            $pem = "-----BEGIN PUBLIC KEY-----\n"
                . chunk_split(base64_encode(hex2bin(self::SPKI_P256_PREFIX) . "\x04" . $x . $y), 64, "\n")
                . "-----END PUBLIC KEY-----\n";
            if (openssl_pkey_get_public($pem) !== false) { // OpenSSL refuses a point that is not on the curve
                $keys[$jwk['kid']] = $pem;
            }
        }
        $this->keys = $keys;
        $this->save();
    }

    private function key(string $kid, float $now): OpenSSLAsymmetricKey
    {
        $this->load();
        $stale = $this->fetchedAt === null || $now - $this->fetchedAt >= self::MAX_AGE;
        if ($stale || (!isset($this->keys[$kid]) && $now - $this->fetchedAt >= $this->cooldown)) {
            try {
                $this->fetch($now);
            } catch (InvalidAssertion $error) {
                if ($stale) {
                    $this->keys = []; // fail closed: keys too old to trust and no fresh ones
                    $this->save();
                }
                throw $error;
            }
        }
        if (!isset($this->keys[$kid])) {
            throw new InvalidAssertion("unknown kid \"$kid\"");
        }
        return openssl_pkey_get_public($this->keys[$kid]);
    }

    /** JWS r || s (32 bytes each) as the DER SEQUENCE of two INTEGERs that openssl_verify reads. */
    private static function derSignature(string $raw): string
    {
        $der = '';
        foreach (str_split($raw, 32) as $half) {
            $integer = ltrim($half, "\x00");
            if ($integer === '' || ord($integer[0]) > 0x7f) {
                $integer = "\x00" . $integer;
            }
            $der .= "\x02" . chr(strlen($integer)) . $integer;
        }
        return "\x30" . chr(strlen($der)) . $der;
    }

    /** The claims of a valid assertion as of $now (seconds since the epoch; default the clock); throws InvalidAssertion. */
    public function verify(string $token, ?float $now = null): array
    {
        $now ??= microtime(true);
        $parts = explode('.', $token);
        if (count($parts) !== 3) {
            throw new InvalidAssertion('not a JWS compact token');
        }
        $header = self::jsonObject(self::b64url($parts[0]));
        if (($header['alg'] ?? null) !== 'ES256') { // never "none", never HS256 with the public key as secret
            throw new InvalidAssertion('alg ' . json_encode($header['alg'] ?? null) . ' is not ES256');
        }
        if (!is_string($header['kid'] ?? null) || array_key_exists('crit', $header)) {
            throw new InvalidAssertion('no kid, or a crit header');
        }
        $key = $this->key($header['kid'], $now);
        [$payload, $signature] = [self::b64url($parts[1]), self::b64url($parts[2])];
        if (strlen($signature) !== 64) {
            throw new InvalidAssertion('bad signature length');
        }
        if (openssl_verify("$parts[0].$parts[1]", self::derSignature($signature), $key, OPENSSL_ALGO_SHA256) !== 1) {
            throw new InvalidAssertion('bad signature');
        }
        $claims = self::jsonObject($payload);
        if (($claims['iss'] ?? null) !== $this->issuer) {
            throw new InvalidAssertion('iss ' . json_encode($claims['iss'] ?? null) . " is not $this->issuer");
        }
        $aud = $claims['aud'] ?? null;
        if ($aud !== $this->audience && !(is_array($aud) && in_array($this->audience, $aud, true))) {
            throw new InvalidAssertion('aud ' . json_encode($aud) . " is not $this->audience");
        }
        [$exp, $iat, $nbf] = [$claims['exp'] ?? null, $claims['iat'] ?? null, $claims['nbf'] ?? 0];
        if (!(is_int($exp) || is_float($exp)) || !(is_int($iat) || is_float($iat)) || !(is_int($nbf) || is_float($nbf))) {
            throw new InvalidAssertion('exp or iat missing, or not numbers');
        }
        if ($now >= $exp + self::LEEWAY) {
            throw new InvalidAssertion('expired');
        }
        if ($iat > $now + self::LEEWAY || $nbf > $now + self::LEEWAY) {
            throw new InvalidAssertion('issued in the future');
        }
        return $claims;
    }
}
