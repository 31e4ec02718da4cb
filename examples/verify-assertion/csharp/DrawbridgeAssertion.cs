// DrawbridgeAssertion.cs — verifies Drawbridge's identity assertion (the X-Drawbridge-Assertion header, an ES256 JWT)
// with .NET 8's base library only (System.Security.Cryptography, System.Text.Json, HttpClient). One instance per
// application (a singleton); it is thread-safe. In ASP.NET Core:
//   app.Use(async (context, next) => {
//       try { context.Items["drawbridge"] = await verifier.VerifyAsync(context.Request.Headers["X-Drawbridge-Assertion"]); }
//       catch (InvalidAssertionException) { context.Response.StatusCode = 401; return; }
//       await next(context);
//   });
using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace Drawbridge;

/// <summary>The assertion is missing, malformed, forged, expired or meant for another application.</summary>
public sealed class InvalidAssertionException : Exception
{
    public InvalidAssertionException(string message) : base(message) { }
}

public sealed class DrawbridgeAssertion : IDisposable
{
    public static readonly TimeSpan Leeway = TimeSpan.FromSeconds(30);          // clock difference tolerated on exp, iat and nbf
    public static readonly TimeSpan RefetchCooldown = TimeSpan.FromSeconds(30); // an unknown kid fetches the JWKS again at most once per this
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(600);         // keys older than this are fetched again
    private const int MaxJwksBytes = 1 << 20;
    private static readonly Regex Base64Url = new("^[A-Za-z0-9_-]*\\z", RegexOptions.CultureInvariant);

    private readonly Uri _jwksUrl;
    private readonly string _issuer;
    private readonly string _audience;
    private readonly TimeSpan _cooldown;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5), MaxResponseContentBufferSize = MaxJwksBytes };
    private readonly SemaphoreSlim _lock = new(1, 1);
    private Dictionary<string, ECParameters> _keys = new();
    private DateTimeOffset _fetchedAt = DateTimeOffset.MinValue;

    /// <param name="jwksUrl">https://&lt;publicUrl&gt;/.drawbridge/jwks.json</param>
    /// <param name="issuer">Drawbridge's publicUrl, e.g. https://auth.example.com</param>
    /// <param name="audience">this application's route origin, e.g. https://wiki.example.com</param>
    public DrawbridgeAssertion(string jwksUrl, string issuer, string audience, TimeSpan? cooldown = null)
    {
        _jwksUrl = new Uri(jwksUrl);
        _issuer = issuer;
        _audience = audience;
        _cooldown = cooldown ?? RefetchCooldown;
    }

    /// <summary>The claims of a valid assertion; throws <see cref="InvalidAssertionException"/>.</summary>
    public Task<JsonObject> VerifyAsync(string? token) => VerifyAsync(token, DateTimeOffset.UtcNow);

    /// <summary>The claims of a valid assertion as of <paramref name="now"/>.</summary>
    public async Task<JsonObject> VerifyAsync(string? token, DateTimeOffset now)
    {
        var parts = (token ?? "").Split('.');
        if (parts.Length != 3) throw new InvalidAssertionException("not a JWS compact token");
        var header = ParseObject(B64Url(parts[0]));
        if (Text(header, "alg") != "ES256") // never "none", never HS256 with the public key as secret
            throw new InvalidAssertionException($"alg {header["alg"]?.ToJsonString() ?? "null"} is not ES256");
        var kid = Text(header, "kid");
        if (kid is null || header.ContainsKey("crit")) throw new InvalidAssertionException("no kid, or a crit header");
        var key = await KeyAsync(kid, now).ConfigureAwait(false);
        var payload = B64Url(parts[1]);
        var signature = B64Url(parts[2]);
        if (signature.Length != 64) throw new InvalidAssertionException("bad signature length"); // JWS ECDSA: r || s
        using (var ecdsa = ECDsa.Create(key))
        {
            var input = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
            if (!ecdsa.VerifyData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
                throw new InvalidAssertionException("bad signature");
        }
        var claims = ParseObject(payload);
        if (Text(claims, "iss") != _issuer) throw new InvalidAssertionException($"iss {claims["iss"]?.ToJsonString()} is not {_issuer}");
        var aud = claims["aud"];
        var audOk = aud is JsonValue ? Text(claims, "aud") == _audience
            : aud is JsonArray list && list.Any(a => a is JsonValue v && v.TryGetValue<string>(out var s) && s == _audience);
        if (!audOk) throw new InvalidAssertionException($"aud {aud?.ToJsonString()} is not {_audience}");
        var exp = Number(claims, "exp");
        var iat = Number(claims, "iat");
        var nbf = claims.ContainsKey("nbf") ? Number(claims, "nbf") : 0;
        if (exp is null || iat is null || nbf is null) throw new InvalidAssertionException("exp or iat missing, or not numbers");
        var seconds = now.ToUnixTimeMilliseconds() / 1000.0;
        var leeway = Leeway.TotalSeconds;
        if (seconds >= exp + leeway) throw new InvalidAssertionException("expired");
        if (iat > seconds + leeway || nbf > seconds + leeway) throw new InvalidAssertionException("issued in the future");
        return claims;
    }

    private async Task<ECParameters> KeyAsync(string kid, DateTimeOffset now)
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var stale = now - _fetchedAt >= MaxAge;
            if (stale || (!_keys.ContainsKey(kid) && now - _fetchedAt >= _cooldown))
            {
                try
                {
                    await FetchAsync(now).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidAssertionException)
                {
                    if (stale) _keys = new(); // fail closed: keys too old to trust and no fresh ones
                    throw new InvalidAssertionException($"cannot fetch the JWKS: {e.Message}");
                }
            }
            return _keys.TryGetValue(kid, out var key) ? key : throw new InvalidAssertionException($"unknown kid \"{kid}\"");
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task FetchAsync(DateTimeOffset now)
    {
        _fetchedAt = now; // also when it fails: an unreachable JWKS is not asked again at every request
        using var response = await _http.GetAsync(_jwksUrl).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidAssertionException($"HTTP {(int)response.StatusCode}");
        var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        var keys = new Dictionary<string, ECParameters>();
        if (ParseObject(body)["keys"] is JsonArray list)
        {
            foreach (var item in list)
            {
                if (item is not JsonObject jwk || Text(jwk, "kid") is not string kid) continue;
                if (Text(jwk, "kty") != "EC" || Text(jwk, "crv") != "P-256") continue;
                if ((jwk.ContainsKey("alg") && Text(jwk, "alg") != "ES256") || (jwk.ContainsKey("use") && Text(jwk, "use") != "sig")) continue;
                try
                {
                    var x = B64Url(Text(jwk, "x") ?? "");
                    var y = B64Url(Text(jwk, "y") ?? "");
                    if (x.Length != 32 || y.Length != 32) continue;
                    var parameters = new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = x, Y = y } };
                    using (ECDsa.Create(parameters)) { } // throws CryptographicException for a point not on the curve
                    keys[kid] = parameters;
                }
                catch (Exception e) when (e is InvalidAssertionException or CryptographicException)
                {
                    // skip this key
                }
            }
        }
        _keys = keys;
    }

    private static byte[] B64Url(string part)
    {
        if (!Base64Url.IsMatch(part)) throw new InvalidAssertionException("not base64url");
        var base64 = part.Replace('-', '+').Replace('_', '/');
        try
        {
            return Convert.FromBase64String(base64 + new string('=', (4 - base64.Length % 4) % 4));
        }
        catch (FormatException)
        {
            throw new InvalidAssertionException("not base64url");
        }
    }

    private static JsonObject ParseObject(byte[] json)
    {
        try
        {
            if (JsonNode.Parse(json) is JsonObject value)
            {
                _ = value.Count; // reads every member now: a duplicate name throws here, not later
                return value;
            }
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            // below
        }
        throw new InvalidAssertionException("not a JSON object");
    }

    private static string? Text(JsonObject o, string name) =>
        o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static double? Number(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    public void Dispose()
    {
        _http.Dispose();
        _lock.Dispose();
    }
}
