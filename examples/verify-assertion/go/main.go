// Test harness: go run . JWKS_URL ISSUER AUDIENCE [COOLDOWN_SECONDS]
//
// Reads lines `TOKEN [NOW]` (NOW: seconds since the epoch, instead of the clock) and prints one JSON line for each:
// {"ok": true, "claims": {...}} or {"ok": false, "error": "..."}.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"time"

	"verifyassertion/drawbridge"
)

func main() {
	verifier := drawbridge.New(os.Args[1], os.Args[2], os.Args[3])
	if len(os.Args) > 4 {
		seconds, _ := strconv.ParseFloat(os.Args[4], 64)
		verifier.Cooldown = time.Duration(seconds * float64(time.Second))
	}
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for scanner.Scan() {
		token, nowText, _ := strings.Cut(strings.TrimSpace(scanner.Text()), " ")
		now := time.Now()
		if nowText != "" {
			seconds, _ := strconv.ParseFloat(nowText, 64)
			now = time.UnixMilli(int64(seconds * 1000))
		}
		claims, err := verifier.Verify(token, now)
		if err != nil {
			_ = out.Encode(map[string]any{"ok": false, "error": err.Error()})
		} else {
			_ = out.Encode(map[string]any{"ok": true, "claims": claims})
		}
	}
}
