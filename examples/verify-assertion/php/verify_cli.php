<?php
// Test harness: php verify_cli.php JWKS_URL ISSUER AUDIENCE [COOLDOWN_SECONDS]
//
// Reads lines `TOKEN [NOW]` (NOW: seconds since the epoch, instead of the clock) and prints one JSON line for each:
// {"ok": true, "claims": {...}} or {"ok": false, "error": "..."}. The JWKS cache file is a new temporary one.

declare(strict_types=1);

require __DIR__ . '/DrawbridgeAssertion.php';

$cacheFile = tempnam(sys_get_temp_dir(), 'drawbridge-jwks-');
unlink($cacheFile);
$verifier = new DrawbridgeAssertion($argv[1], $argv[2], $argv[3], $cacheFile, (float) ($argv[4] ?? DrawbridgeAssertion::REFETCH_COOLDOWN));
while (($line = fgets(STDIN)) !== false) {
    [$token, $now] = array_pad(explode(' ', trim($line), 2), 2, null);
    try {
        $result = ['ok' => true, 'claims' => $verifier->verify($token, $now === null ? null : (float) $now)];
    } catch (InvalidAssertion $error) {
        $result = ['ok' => false, 'error' => $error->getMessage()];
    }
    echo json_encode($result, JSON_UNESCAPED_SLASHES), "\n";
}
@unlink($cacheFile);
