package dev.tessera.cli.kube;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The minimums of {@code docs/compatibility.md} ({@code CompatibilityTest} keeps the two in step): the
 * Kubernetes version the manifests need and the node kernel the eBPF programs need.
 */
public final class Compatibility {

    /** Kubernetes 1.30: the agent's {@code securityContext.appArmorProfile}. */
    public static final int[] MIN_KUBERNETES = {1, 30};
    /** The node kernel the eBPF programs need: {@link dev.tessera.cli.observe.KernelRequirements#MIN_KERNEL}. */
    public static final int[] MIN_KERNEL = dev.tessera.cli.observe.KernelRequirements.MIN_KERNEL;

    private static final Pattern MAJOR_MINOR = Pattern.compile("^v?(\\d+)\\.(\\d+)");
    private static final Pattern DIGITS = Pattern.compile("^(\\d+)");

    private Compatibility() {}

    /** {@code major.minor} of {@code 5.15.0-1051-azure}, {@code v1.30.2+k3s1}, ...; null when there is none. */
    public static int[] majorMinor(String version) {
        if (version == null) {
            return null;
        }
        Matcher m = MAJOR_MINOR.matcher(version.strip());
        return m.find() ? new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))} : null;
    }

    /** The API server's {@code major}/{@code minor} ({@code "30+"} on some providers); null when unparsable. */
    public static int[] majorMinor(String major, String minor) {
        Matcher a = major == null ? null : DIGITS.matcher(major.strip());
        Matcher b = minor == null ? null : DIGITS.matcher(minor.strip());
        if (a == null || b == null || !a.find() || !b.find()) {
            return null;
        }
        return new int[] {Integer.parseInt(a.group(1)), Integer.parseInt(b.group(1))};
    }

    /** True when {@code v} is at least {@code min}. */
    public static boolean atLeast(int[] v, int[] min) {
        return v[0] > min[0] || (v[0] == min[0] && v[1] >= min[1]);
    }

    /** {@code 5.14}. */
    public static String show(int[] v) {
        return v[0] + "." + v[1];
    }

    /**
     * Compares release versions such as {@code 0.1.0} and {@code 0.2.0-rc1} numerically, part by part (a
     * suffix after {@code -} is ignored).
     */
    public static int compareRelease(String a, String b) {
        String[] x = a.split("-", 2)[0].split("\\.");
        String[] y = b.split("-", 2)[0].split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Long.compare(part(x, i), part(y, i));
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }

    private static long part(String[] p, int i) {
        if (i >= p.length) {
            return 0;
        }
        Matcher m = DIGITS.matcher(p[i]);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
}
