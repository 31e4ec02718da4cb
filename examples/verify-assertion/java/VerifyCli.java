// Test harness: javac -d OUT DrawbridgeAssertion.java VerifyCli.java && java -cp OUT VerifyCli JWKS_URL ISSUER AUDIENCE [COOLDOWN_SECONDS]
//
// Reads lines `TOKEN [NOW]` (NOW: seconds since the epoch, instead of the clock) and prints one JSON line for each:
// {"ok": true, "claims": {...}} or {"ok": false, "error": "..."}.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

public final class VerifyCli {
    public static void main(String[] args) throws Exception {
        double cooldown = args.length > 3 ? Double.parseDouble(args[3]) : DrawbridgeAssertion.REFETCH_COOLDOWN;
        DrawbridgeAssertion verifier = new DrawbridgeAssertion(args[0], args[1], args[2], cooldown);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            String[] fields = line.trim().split(" ", 2);
            StringBuilder out = new StringBuilder();
            try {
                Map<String, Object> claims = fields.length > 1
                        ? verifier.verify(fields[0], Double.parseDouble(fields[1]))
                        : verifier.verify(fields[0]);
                out.append("{\"ok\":true,\"claims\":");
                write(claims, out);
            } catch (DrawbridgeAssertion.InvalidAssertion e) {
                out.append("{\"ok\":false,\"error\":");
                write(e.getMessage(), out);
            }
            System.out.println(out.append('}'));
        }
    }

    private static void write(Object value, StringBuilder out) {
        if (value instanceof Map<?, ?> map) {
            out.append('{');
            String comma = "";
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                out.append(comma);
                write(entry.getKey(), out);
                out.append(':');
                write(entry.getValue(), out);
                comma = ",";
            }
            out.append('}');
        } else if (value instanceof List<?> list) {
            out.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) out.append(',');
                write(list.get(i), out);
            }
            out.append(']');
        } else if (value instanceof String s) {
            out.append('"');
            for (char c : s.toCharArray()) {
                if (c == '"' || c == '\\') out.append('\\').append(c);
                else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                else out.append(c);
            }
            out.append('"');
        } else {
            out.append(value); // Long, Double, Boolean, null
        }
    }
}
