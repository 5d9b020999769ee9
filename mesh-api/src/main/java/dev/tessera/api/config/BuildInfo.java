package dev.tessera.api.config;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * What this build is: its version (the Maven project version, written into {@code build.properties} at build
 * time), which the agent and the controller export as {@code tessera_build_info{version}} and
 * {@code tessera version} prints.
 */
public final class BuildInfo {

    /** This build's version, or {@code unknown} when the resource is missing. */
    public static final String VERSION = load();

    /** The metric every component exports with value 1 and its version as a label (as exposed). */
    public static final String METRIC = "tessera_build_info";
    /** {@link #METRIC} as the Prometheus client names an info metric (it appends {@code _info}). */
    public static final String METRIC_BASE = "tessera_build";

    private BuildInfo() {}

    private static String load() {
        try (InputStream in = BuildInfo.class.getResourceAsStream("build.properties")) {
            if (in == null) {
                return "unknown";
            }
            var p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "unknown");
            return v.startsWith("${") ? "unknown" : v;
        } catch (IOException e) {
            return "unknown";
        }
    }
}
