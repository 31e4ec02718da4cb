// Package drawbridge verifies Drawbridge's identity assertion (the X-Drawbridge-Assertion header, an ES256 JWT)
// with the standard library only. One Verifier per process; it is safe for concurrent use.
package drawbridge

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	Leeway          = 30 * time.Second  // clock difference tolerated on exp, iat and nbf
	RefetchCooldown = 30 * time.Second  // an unknown kid fetches the JWKS again at most once per this
	MaxAge          = 600 * time.Second // keys older than this are fetched again (a removed key stops being trusted)
	maxJWKSBytes    = 1 << 20
)

// Verifier checks assertions against Drawbridge's JWKS, which it caches.
type Verifier struct {
	JWKSURL  string // https://<publicUrl>/.drawbridge/jwks.json
	Issuer   string // Drawbridge's publicUrl, e.g. https://auth.example.com
	Audience string // this application's route origin, e.g. https://wiki.example.com
	Cooldown time.Duration
	Client   *http.Client

	mu        sync.Mutex
	keys      map[string]*ecdsa.PublicKey
	fetchedAt time.Time
}

// New returns a Verifier with the default cooldown and a 5-second HTTP timeout.
func New(jwksURL, issuer, audience string) *Verifier {
	return &Verifier{JWKSURL: jwksURL, Issuer: issuer, Audience: audience, Cooldown: RefetchCooldown, Client: &http.Client{Timeout: 5 * time.Second}}
}

// FromRequest returns the claims of the request's assertion, or an error.
func (v *Verifier) FromRequest(r *http.Request) (map[string]any, error) {
	return v.Verify(r.Header.Get("X-Drawbridge-Assertion"), time.Now())
}

func (v *Verifier) fetch(now time.Time) error {
	v.fetchedAt = now // also when it fails: an unreachable JWKS is not asked again at every request
	resp, err := v.Client.Get(v.JWKSURL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBytes {
		return errors.New("JWKS too large")
	}
	var set struct {
		Keys []struct{ Kty, Crv, Kid, Alg, Use, X, Y string } `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return err
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" || k.Kid == "" || (k.Alg != "" && k.Alg != "ES256") || (k.Use != "" && k.Use != "sig") {
			continue
		}
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			continue
		}
		key := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		if key.Curve.IsOnCurve(key.X, key.Y) {
			keys[k.Kid] = key
		}
	}
	v.keys = keys
	return nil
}

func (v *Verifier) key(kid string, now time.Time) (*ecdsa.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	stale := v.fetchedAt.IsZero() || now.Sub(v.fetchedAt) >= MaxAge
	if _, known := v.keys[kid]; stale || (!known && now.Sub(v.fetchedAt) >= v.Cooldown) {
		if err := v.fetch(now); err != nil {
			if stale {
				v.keys = nil // fail closed: keys too old to trust and no fresh ones
			}
			return nil, fmt.Errorf("cannot fetch the JWKS: %w", err)
		}
	}
	if key, ok := v.keys[kid]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

func decodeJSON(part string, into any) error {
	data, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return errors.New("not base64url")
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber() // exp, iat and the other numbers as they were written
	if err := decoder.Decode(into); err != nil {
		return err
	}
	if _, err := decoder.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func number(claims map[string]any, name string, required bool) (float64, error) {
	value, present := claims[name]
	if !present && !required {
		return 0, nil
	}
	n, ok := value.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s missing or not a number", name)
	}
	return n.Float64()
}

// Verify returns the claims of a valid assertion as of now, or an error.
func (v *Verifier) Verify(token string, now time.Time) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS compact token")
	}
	var header map[string]any
	if err := decodeJSON(parts[0], &header); err != nil || header == nil {
		return nil, errors.New("bad header")
	}
	if header["alg"] != "ES256" { // never "none", never HS256 with the public key as secret
		return nil, fmt.Errorf("alg %v is not ES256", header["alg"])
	}
	kid, ok := header["kid"].(string)
	if _, crit := header["crit"]; !ok || crit {
		return nil, errors.New("no kid, or a crit header")
	}
	key, err := v.key(kid, now)
	if err != nil {
		return nil, err
	}
	signature, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(signature) != 64 { // JWS ECDSA: r || s, 32 bytes each
		return nil, errors.New("bad signature encoding")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(key, digest[:], new(big.Int).SetBytes(signature[:32]), new(big.Int).SetBytes(signature[32:])) {
		return nil, errors.New("bad signature")
	}
	var claims map[string]any
	if err := decodeJSON(parts[1], &claims); err != nil || claims == nil {
		return nil, errors.New("bad payload")
	}
	if claims["iss"] != v.Issuer {
		return nil, fmt.Errorf("iss %v is not %s", claims["iss"], v.Issuer)
	}
	if !audienceMatches(claims["aud"], v.Audience) {
		return nil, fmt.Errorf("aud %v is not %s", claims["aud"], v.Audience)
	}
	exp, err := number(claims, "exp", true)
	if err != nil {
		return nil, err
	}
	iat, err := number(claims, "iat", true)
	if err != nil {
		return nil, err
	}
	nbf, err := number(claims, "nbf", false)
	if err != nil {
		return nil, err
	}
	seconds := float64(now.UnixMilli()) / 1000
	leeway := Leeway.Seconds()
	if seconds >= exp+leeway {
		return nil, errors.New("expired")
	}
	if iat > seconds+leeway || nbf > seconds+leeway {
		return nil, errors.New("issued in the future")
	}
	return claims, nil
}

func audienceMatches(aud any, audience string) bool {
	if s, ok := aud.(string); ok {
		return s == audience
	}
	if list, ok := aud.([]any); ok {
		for _, a := range list {
			if a == audience {
				return true
			}
		}
	}
	return false
}
