package dev.tessera.logging;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A level for every logger: a default plus levels per logger-name prefix, written like ztunnel's
 * {@code RUST_LOG}: {@code info} or {@code info,io.netty=warn,tessera.access=off}. A prefix {@code NAME} applies
 * to {@code NAME} and to {@code NAME.*}; the longest matching prefix wins.
 *
 * @param defaultLevel the level of loggers no prefix matches
 * @param prefixes     levels per logger-name prefix
 */
public record LevelSpec(LogLevel defaultLevel, Map<String, LogLevel> prefixes) {

    /** {@code info} with Netty's chatter at {@code warn}: what the agent and controller start with. */
    public static final LevelSpec DEFAULT = parse("info,io.netty=warn");

    public LevelSpec {
        java.util.Objects.requireNonNull(defaultLevel, "defaultLevel");
        prefixes = Map.copyOf(prefixes);
    }

    /**
     * Parses {@code LEVEL[,PREFIX=LEVEL...]}; a bare level names the default (the last one wins).
     *
     * @throws IllegalArgumentException naming {@code --log-level}, the bad part and the expected shape
     */
    public static LevelSpec parse(String spec) {
        LogLevel def = LogLevel.INFO;
        var prefixes = new LinkedHashMap<String, LogLevel>();
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("--log-level: '" + spec + "' (expected: trace|debug|info|warn|error|off,"
                    + " optionally followed by ,LOGGER=LEVEL pairs)");
        }
        for (String part : spec.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            try {
                if (eq < 0) {
                    def = LogLevel.parse(p);
                } else if (eq == 0) {
                    throw new IllegalArgumentException("empty logger name");
                } else {
                    prefixes.put(p.substring(0, eq).trim(), LogLevel.parse(p.substring(eq + 1)));
                }
            } catch (IllegalArgumentException e) {
                String where = p.equals(spec.trim()) ? "" : " in '" + spec + "'";
                throw new IllegalArgumentException("--log-level: '" + p + "'" + where + " (expected:"
                        + " trace|debug|info|warn|error|off, optionally followed by ,LOGGER=LEVEL pairs)", e);
            }
        }
        return new LevelSpec(def, prefixes);
    }

    /** This spec with {@code prefix} (empty: the default) set to {@code level}. */
    public LevelSpec with(String prefix, LogLevel level) {
        if (prefix == null || prefix.isBlank()) {
            // a new default replaces every narrower setting, as "every logger" means in the admin API
            return new LevelSpec(level, Map.of());
        }
        var p = new LinkedHashMap<>(prefixes);
        p.keySet().removeIf(k -> k.startsWith(prefix.trim() + "."));
        p.put(prefix.trim(), level);
        return new LevelSpec(defaultLevel, p);
    }

    /** The level of the logger {@code name}. */
    public LogLevel levelOf(String name) {
        LogLevel best = defaultLevel;
        int bestLength = -1;
        for (var e : prefixes.entrySet()) {
            String k = e.getKey();
            if (k.length() > bestLength && (name.equals(k) || name.startsWith(k) && name.length() > k.length()
                    && name.charAt(k.length()) == '.')) {
                best = e.getValue();
                bestLength = k.length();
            }
        }
        return best;
    }
}
