package dev.tessera.cli.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One connection record from an agent's access log: a line logged by SLF4J logger
 * {@value #LOGGER} whose message is a JSON object. Parsing is tolerant of field naming
 * ({@code src_identity}, {@code source_principal}, {@code src.identity}, {@code bytes_sent},
 * {@code sent_bytes}, ...) because this is a reader of another component's output.
 */
public record AccessLogLine(String srcIdentity, String dstIdentity, String src, String dst, Long bytesSent,
        Long bytesReceived, Long durationMs, String reason) {

    /** The agent's access-log logger name. */
    public static final String LOGGER = "tessera.access";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> SRC_ID = List.of("srcidentity", "sourceidentity", "srcprincipal", "sourceprincipal",
            "srcspiffeid", "sourcespiffeid", "srcid", "clientidentity", "peeridentity");
    private static final List<String> DST_ID = List.of("dstidentity", "destinationidentity", "dstprincipal",
            "destinationprincipal", "dstspiffeid", "destinationspiffeid", "dstid", "serveridentity");
    private static final List<String> SRC = List.of("srcaddr", "srcaddress", "sourceaddress", "srcip", "sourceip", "src", "source",
            "clientaddr");
    private static final List<String> DST = List.of("dstaddr", "dstaddress", "destinationaddress", "originaldestination",
            "origdst", "dstip", "destinationip", "dst", "destination");
    private static final List<String> SENT = List.of("bytessent", "sentbytes", "bytesout", "txbytes", "sent");
    private static final List<String> RECEIVED = List.of("bytesreceived", "receivedbytes", "bytesin", "rxbytes", "received");
    private static final List<String> DURATION = List.of("durationms", "duration", "elapsedms");
    private static final List<String> REASON = List.of("reason", "responseflags", "result", "closereason", "status");

    /** Parses a log line; empty unless it carries a JSON object with at least one identity. */
    public static Optional<AccessLogLine> parse(String line) {
        if (line == null) {
            return Optional.empty();
        }
        int at = line.indexOf(LOGGER);
        int brace = line.indexOf('{', Math.max(at, 0));
        if (brace < 0 || line.lastIndexOf('}') < brace) {
            return Optional.empty();
        }
        JsonNode root;
        try {
            root = JSON.readTree(line.substring(brace, line.lastIndexOf('}') + 1));
        } catch (Exception e) {
            return Optional.empty();
        }
        if (root == null || !root.isObject()) {
            return Optional.empty();
        }
        var flat = new HashMap<String, JsonNode>();
        flatten("", root, flat);
        String srcId = text(flat, SRC_ID);
        String dstId = text(flat, DST_ID);
        if (srcId == null && dstId == null) {
            return Optional.empty();
        }
        return Optional.of(new AccessLogLine(srcId, dstId, text(flat, SRC), text(flat, DST), number(flat, SENT),
                number(flat, RECEIVED), number(flat, DURATION), text(flat, REASON)));
    }

    private static void flatten(String prefix, JsonNode node, Map<String, JsonNode> out) {
        node.fields().forEachRemaining(e -> {
            String key = normalize(prefix + e.getKey());
            if (e.getValue().isObject()) {
                flatten(prefix + e.getKey(), e.getValue(), out);
                // a nested {"src": {"identity": ..., "addr": ...}} also answers "src" with its address
                JsonNode addr = e.getValue().get("address") != null ? e.getValue().get("address") : e.getValue().get("addr");
                if (addr != null) {
                    out.putIfAbsent(key, addr);
                }
            } else {
                out.putIfAbsent(key, e.getValue());
            }
        });
    }

    private static String normalize(String key) {
        return key.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "");
    }

    private static String text(Map<String, JsonNode> flat, List<String> keys) {
        for (String k : keys) {
            JsonNode v = flat.get(k);
            if (v != null && !v.isNull() && !v.asText().isEmpty()) {
                return v.asText();
            }
        }
        return null;
    }

    private static Long number(Map<String, JsonNode> flat, List<String> keys) {
        for (String k : keys) {
            JsonNode v = flat.get(k);
            if (v != null && v.isNumber()) {
                return v.asLong();
            }
            if (v != null && v.isTextual() && v.asText().matches("\\d+")) {
                return Long.parseLong(v.asText());
            }
        }
        return null;
    }

    /** One human line: identities, addresses, byte counts, duration and reason. */
    public String describe() {
        var s = new StringBuilder();
        s.append(srcIdentity == null ? "?" : srcIdentity).append(" -> ").append(dstIdentity == null ? "?" : dstIdentity);
        if (dst != null) {
            s.append("  dst ").append(dst);
        }
        if (bytesSent != null) {
            s.append("  sent ").append(bytesSent).append(" B");
        }
        if (bytesReceived != null) {
            s.append("  received ").append(bytesReceived).append(" B");
        }
        if (durationMs != null) {
            s.append("  ").append(durationMs).append(" ms");
        }
        if (reason != null) {
            s.append("  (").append(reason).append(")");
        }
        return s.toString();
    }
}
