// DrawbridgeAssertion.java — verifies Drawbridge's identity assertion (the X-Drawbridge-Assertion header, an ES256
// JWT) with the JDK only (Java 17: java.net.http, java.security). The JDK has no JSON parser, so a small strict one
// (RFC 8259: objects, arrays, strings with escapes, numbers, literals; nothing after the value) is at the end.
// One instance per application; it is thread-safe.
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECFieldFp;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class DrawbridgeAssertion {
    public static final double LEEWAY = 30;           // seconds of clock difference tolerated on exp, iat and nbf
    public static final double REFETCH_COOLDOWN = 30; // an unknown kid fetches the JWKS again at most once per this many seconds
    public static final double MAX_AGE = 600;         // keys older than this are fetched again (a removed key stops being trusted)
    private static final int MAX_JWKS_BYTES = 1 << 20;
    private static final Pattern BASE64URL = Pattern.compile("[A-Za-z0-9_-]*");
    private static final ECParameterSpec P256;

    static {
        try {
            AlgorithmParameters parameters = AlgorithmParameters.getInstance("EC");
            parameters.init(new ECGenParameterSpec("secp256r1"));
            P256 = parameters.getParameterSpec(ECParameterSpec.class);
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The assertion is missing, malformed, forged, expired or meant for another application. */
    public static final class InvalidAssertion extends Exception {
        private static final long serialVersionUID = 1L;

        public InvalidAssertion(String message) {
            super(message);
        }
    }

    private final URI jwksUrl;
    private final String issuer;
    private final String audience;
    private final double cooldown;
    // HTTP/1.1: over plain http the JDK's default HTTP/2 sends "Upgrade: h2c", which Drawbridge does not serve.
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private Map<String, PublicKey> keys = Map.of();
    private double fetchedAt = Double.NaN;

    /**
     * @param jwksUrl  https://&lt;publicUrl&gt;/.drawbridge/jwks.json
     * @param issuer   Drawbridge's publicUrl, e.g. https://auth.example.com
     * @param audience this application's route origin, e.g. https://wiki.example.com
     */
    public DrawbridgeAssertion(String jwksUrl, String issuer, String audience) {
        this(jwksUrl, issuer, audience, REFETCH_COOLDOWN);
    }

    public DrawbridgeAssertion(String jwksUrl, String issuer, String audience, double cooldownSeconds) {
        this.jwksUrl = URI.create(jwksUrl);
        this.issuer = issuer;
        this.audience = audience;
        this.cooldown = cooldownSeconds;
    }

    /** The claims of a valid assertion (e.g. request.getHeader("X-Drawbridge-Assertion")). */
    public Map<String, Object> verify(String token) throws InvalidAssertion {
        return verify(token, System.currentTimeMillis() / 1000.0);
    }

    /** The claims of a valid assertion as of {@code now}, seconds since the epoch. */
    public Map<String, Object> verify(String token, double now) throws InvalidAssertion {
        String[] parts = token == null ? new String[0] : token.split("\\.", -1);
        if (parts.length != 3) throw new InvalidAssertion("not a JWS compact token");
        Map<String, Object> header = object(b64url(parts[0]));
        if (!"ES256".equals(header.get("alg"))) { // never "none", never HS256 with the public key as secret
            throw new InvalidAssertion("alg " + header.get("alg") + " is not ES256");
        }
        if (!(header.get("kid") instanceof String) || header.containsKey("crit")) throw new InvalidAssertion("no kid, or a crit header");
        PublicKey key = key((String) header.get("kid"), now);
        byte[] payload = b64url(parts[1]);
        byte[] signature = b64url(parts[2]);
        if (signature.length != 64) throw new InvalidAssertion("bad signature length"); // JWS ECDSA: r || s, 32 bytes each
        try {
            Signature verifier = Signature.getInstance("SHA256withECDSAinP1363Format");
            verifier.initVerify(key);
            verifier.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
            if (!verifier.verify(signature)) throw new InvalidAssertion("bad signature");
        } catch (GeneralSecurityException e) {
            throw new InvalidAssertion("bad signature");
        }
        Map<String, Object> claims = object(payload);
        if (!issuer.equals(claims.get("iss"))) throw new InvalidAssertion("iss " + claims.get("iss") + " is not " + issuer);
        Object aud = claims.get("aud");
        if (!audience.equals(aud) && !(aud instanceof List<?> list && list.contains(audience))) {
            throw new InvalidAssertion("aud " + aud + " is not " + audience);
        }
        Object exp = claims.get("exp"), iat = claims.get("iat"), nbf = claims.getOrDefault("nbf", 0L);
        if (!(exp instanceof Number) || !(iat instanceof Number) || !(nbf instanceof Number)) {
            throw new InvalidAssertion("exp or iat missing, or not numbers");
        }
        if (now >= ((Number) exp).doubleValue() + LEEWAY) throw new InvalidAssertion("expired");
        if (((Number) iat).doubleValue() > now + LEEWAY || ((Number) nbf).doubleValue() > now + LEEWAY) {
            throw new InvalidAssertion("issued in the future");
        }
        return claims;
    }

    private synchronized PublicKey key(String kid, double now) throws InvalidAssertion {
        boolean stale = Double.isNaN(fetchedAt) || now - fetchedAt >= MAX_AGE;
        if (stale || (!keys.containsKey(kid) && now - fetchedAt >= cooldown)) {
            try {
                fetch(now);
            } catch (InvalidAssertion | IOException | RuntimeException e) {
                if (stale) keys = Map.of(); // fail closed: keys too old to trust and no fresh ones
                throw new InvalidAssertion("cannot fetch the JWKS: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InvalidAssertion("interrupted while fetching the JWKS");
            }
        }
        PublicKey key = keys.get(kid);
        if (key == null) throw new InvalidAssertion("unknown kid \"" + kid + "\"");
        return key;
    }

    private void fetch(double now) throws InvalidAssertion, IOException, InterruptedException {
        fetchedAt = now; // also when it fails: an unreachable JWKS is not asked again at every request
        HttpRequest request = HttpRequest.newBuilder(jwksUrl).timeout(Duration.ofSeconds(5)).GET().build();
        HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        byte[] body;
        try (InputStream in = response.body()) {
            body = in.readNBytes(MAX_JWKS_BYTES + 1);
        }
        if (response.statusCode() != 200) throw new InvalidAssertion("HTTP " + response.statusCode());
        if (body.length > MAX_JWKS_BYTES) throw new InvalidAssertion("JWKS too large");
        Map<String, PublicKey> fresh = new HashMap<>();
        Object list = object(body).get("keys");
        for (Object item : list instanceof List<?> l ? l : List.of()) {
            if (!(item instanceof Map<?, ?> jwk) || !(jwk.get("kid") instanceof String kid)) continue;
            if (!"EC".equals(jwk.get("kty")) || !"P-256".equals(jwk.get("crv"))) continue;
            if (jwk.containsKey("alg") && !"ES256".equals(jwk.get("alg")) || jwk.containsKey("use") && !"sig".equals(jwk.get("use"))) continue;
            if (!(jwk.get("x") instanceof String x64) || !(jwk.get("y") instanceof String y64)) continue;
            try {
                byte[] x = b64url(x64), y = b64url(y64);
                if (x.length != 32 || y.length != 32) continue;
                ECPoint point = new ECPoint(new BigInteger(1, x), new BigInteger(1, y));
                if (!onCurve(point)) continue; // the JDK does not check it when it builds the key
                fresh.put(kid, KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(point, P256)));
            } catch (InvalidAssertion | GeneralSecurityException e) {
                // skip this key
            }
        }
        keys = Map.copyOf(fresh);
    }

    private static boolean onCurve(ECPoint point) {
        BigInteger p = ((ECFieldFp) P256.getCurve().getField()).getP();
        BigInteger x = point.getAffineX(), y = point.getAffineY();
        if (x.compareTo(p) >= 0 || y.compareTo(p) >= 0) return false;
        BigInteger right = x.pow(3).add(P256.getCurve().getA().multiply(x)).add(P256.getCurve().getB()).mod(p);
        return y.multiply(y).mod(p).equals(right);
    }

    private static byte[] b64url(String part) throws InvalidAssertion {
        if (!BASE64URL.matcher(part).matches()) throw new InvalidAssertion("not base64url");
        try {
            return Base64.getUrlDecoder().decode(part);
        } catch (IllegalArgumentException e) {
            throw new InvalidAssertion("not base64url");
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(byte[] json) throws InvalidAssertion {
        if (Json.parse(new String(json, StandardCharsets.UTF_8)) instanceof Map<?, ?> map) return (Map<String, Object>) map;
        throw new InvalidAssertion("not a JSON object");
    }

    /** A strict RFC 8259 parser: Map (insertion order), List, String, Long (integers) or Double, Boolean, null. */
    static final class Json {
        private static final Pattern NUMBER = Pattern.compile("-?(?:0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");
        private final String text;
        private int at;

        private Json(String text) {
            this.text = text;
        }

        static Object parse(String text) throws InvalidAssertion {
            Json json = new Json(text);
            Object value = json.value(0);
            json.space();
            if (json.at != text.length()) throw new InvalidAssertion("not JSON");
            return value;
        }

        private InvalidAssertion error() {
            return new InvalidAssertion("not JSON");
        }

        private void space() {
            while (at < text.length() && " \t\r\n".indexOf(text.charAt(at)) >= 0) at++;
        }

        private boolean accept(char c) {
            space();
            if (at < text.length() && text.charAt(at) == c) {
                at++;
                return true;
            }
            return false;
        }

        private Object value(int depth) throws InvalidAssertion {
            space();
            if (depth > 64 || at >= text.length()) throw error();
            char c = text.charAt(at);
            if (c == '{') {
                at++;
                Map<String, Object> map = new LinkedHashMap<>();
                if (accept('}')) return map;
                do {
                    space();
                    if (at >= text.length() || text.charAt(at) != '"') throw error();
                    String name = string();
                    if (!accept(':')) throw error();
                    map.put(name, value(depth + 1));
                } while (accept(','));
                if (!accept('}')) throw error();
                return map;
            }
            if (c == '[') {
                at++;
                List<Object> list = new ArrayList<>();
                if (accept(']')) return list;
                do list.add(value(depth + 1)); while (accept(','));
                if (!accept(']')) throw error();
                return list;
            }
            if (c == '"') return string();
            for (String literal : new String[] {"true", "false", "null"}) {
                if (text.startsWith(literal, at)) {
                    at += literal.length();
                    return literal.equals("null") ? null : Boolean.valueOf(literal);
                }
            }
            Matcher m = NUMBER.matcher(text).region(at, text.length());
            if (!m.lookingAt()) throw error();
            at = m.end();
            if (m.group(1) == null && m.group(2) == null) {
                try {
                    return Long.parseLong(m.group());
                } catch (NumberFormatException e) {
                    // beyond a long: a double below
                }
            }
            return Double.parseDouble(m.group());
        }

        private String string() throws InvalidAssertion {
            at++; // the opening quote
            StringBuilder out = new StringBuilder();
            while (at < text.length()) {
                char c = text.charAt(at++);
                if (c == '"') return out.toString();
                if (c < 0x20) throw error();
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (at >= text.length()) throw error();
                char e = text.charAt(at++);
                switch (e) {
                    case '"', '\\', '/' -> out.append(e);
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'u' -> {
                        if (at + 4 > text.length()) throw error();
                        try {
                            out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                        } catch (NumberFormatException x) {
                            throw error();
                        }
                        at += 4;
                    }
                    default -> throw error();
                }
            }
            throw error();
        }
    }
}
