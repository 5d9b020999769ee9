package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Local mode's agent authentication: a file of static tokens, one agent per line, written by
 * {@code tessera local up} (mode 0600) like the API server's static token file:
 * <pre>
 *   # token,node[,namespace/serviceAccount]
 *   4f1c...e9,node1,tessera-system/tessera-agent
 * </pre>
 * A token authenticates the agent of exactly one node. Tokens are compared in constant time.
 */
public final class StaticTokenAuthenticator implements AgentAuthenticator {

    /** The agent service account when a line names none. */
    public static final String DEFAULT_AGENT = "tessera-system/tessera-agent";

    private final Map<String, Agent> byToken;

    private StaticTokenAuthenticator(Map<String, Agent> byToken) {
        this.byToken = Map.copyOf(byToken);
    }

    /** Reads a token file; errors name the line and the expected shape. */
    public static StaticTokenAuthenticator read(Path file) throws IOException {
        requireNonNull(file, "file");
        return parse(file.toString(), Files.readAllLines(file, StandardCharsets.UTF_8));
    }

    /** Parses token lines ({@code source} names them in errors). */
    public static StaticTokenAuthenticator parse(String source, List<String> lines) {
        var out = new HashMap<String, Agent>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split(",", -1);
            String where = source + ":" + (i + 1);
            if (f.length < 2 || f.length > 3 || f[0].isBlank() || f[1].isBlank()) {
                throw new IllegalArgumentException(where + ": '" + redact(line)
                        + "' (expected: token,node[,namespace/serviceAccount])");
            }
            if (f[0].strip().length() < 16) {
                throw new IllegalArgumentException(where + ": token of " + f[0].strip().length()
                        + " characters (expected: at least 16)");
            }
            String sa = f.length == 3 ? f[2].strip() : DEFAULT_AGENT;
            String[] nsSa = sa.split("/", -1);
            if (nsSa.length != 2 || nsSa[0].isBlank() || nsSa[1].isBlank()) {
                throw new IllegalArgumentException(where + ": service account '" + sa
                        + "' (expected: namespace/serviceAccount)");
            }
            if (out.put(f[0].strip(), new Agent(nsSa[0], nsSa[1], f[1].strip())) != null) {
                throw new IllegalArgumentException(where + ": duplicate token (expected: one token per agent)");
            }
        }
        return new StaticTokenAuthenticator(out);
    }

    @Override
    public Agent authenticate(String bearerToken) throws SvidRefusedException {
        if (bearerToken == null || bearerToken.isBlank()) {
            throw new SvidRefusedException(RefusalReason.TOKEN_MISSING,
                    "no bearer token (expected: the agent's token from the local token file)");
        }
        byte[] presented = bearerToken.strip().getBytes(StandardCharsets.UTF_8);
        Agent found = null;
        for (var e : byToken.entrySet()) { // every entry compared: no early exit on a match
            if (MessageDigest.isEqual(presented, e.getKey().getBytes(StandardCharsets.UTF_8))) {
                found = e.getValue();
            }
        }
        if (found == null) {
            throw new SvidRefusedException(RefusalReason.TOKEN_INVALID, "token not in the local token file");
        }
        return found;
    }

    /** How many agents the file names. */
    public int size() {
        return byToken.size();
    }

    private static String redact(String line) {
        int comma = line.indexOf(',');
        return comma < 0 ? "<" + line.length() + " characters>" : "<token>" + line.substring(comma);
    }
}
