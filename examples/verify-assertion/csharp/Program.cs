// Test harness: dotnet run -- JWKS_URL ISSUER AUDIENCE [COOLDOWN_SECONDS]
//
// Reads lines `TOKEN [NOW]` (NOW: seconds since the epoch, instead of the clock) and prints one JSON line for each:
// {"ok": true, "claims": {...}} or {"ok": false, "error": "..."}.
using System;
using System.Globalization;
using System.Text.Json.Nodes;
using Drawbridge;

var cooldown = args.Length > 3 ? TimeSpan.FromSeconds(double.Parse(args[3], CultureInfo.InvariantCulture)) : DrawbridgeAssertion.RefetchCooldown;
using var verifier = new DrawbridgeAssertion(args[0], args[1], args[2], cooldown);
string? line;
while ((line = Console.ReadLine()) is not null)
{
    var fields = line.Trim().Split(' ', 2);
    JsonObject result;
    try
    {
        var now = fields.Length > 1
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(double.Parse(fields[1], CultureInfo.InvariantCulture) * 1000))
            : DateTimeOffset.UtcNow;
        result = new JsonObject { ["ok"] = true, ["claims"] = await verifier.VerifyAsync(fields[0], now) };
    }
    catch (InvalidAssertionException e)
    {
        result = new JsonObject { ["ok"] = false, ["error"] = e.Message };
    }
    Console.WriteLine(result.ToJsonString());
}
