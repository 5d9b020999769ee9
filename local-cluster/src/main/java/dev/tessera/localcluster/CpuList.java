package dev.tessera.localcluster;

import java.util.BitSet;
import java.util.regex.Pattern;

/**
 * A CPU list in the kernel's syntax ({@code "1"}, {@code "0-3,6"}): what a Node's
 * {@link ClusterDescription#LOCAL_CPUS_ANNOTATION} holds, what {@code /sys/devices/system/cpu/online} holds and
 * what {@code taskset -c} takes.
 */
public final class CpuList {

    /** CPU numbers above this are refused as typos; whether the machine has a CPU is checked at {@code local up}. */
    public static final int MAX_CPU = 4095;
    private static final Pattern SYNTAX = Pattern.compile("\\d{1,4}(-\\d{1,4})?(,\\d{1,4}(-\\d{1,4})?)*");

    private CpuList() {}

    /**
     * The CPUs of {@code list} (surrounding whitespace ignored, as in the sysfs file).
     *
     * @throws IllegalArgumentException when it is not a list of CPUs 0-{@value #MAX_CPU} and ranges low-high
     */
    public static BitSet parse(String list) {
        String s = list.strip();
        if (!SYNTAX.matcher(s).matches()) {
            throw new IllegalArgumentException("'" + list + "' is not a CPU list");
        }
        var cpus = new BitSet();
        for (String part : s.split(",")) {
            String[] r = part.split("-");
            int low = Integer.parseInt(r[0]);
            int high = Integer.parseInt(r[r.length - 1]);
            if (low > high || high > MAX_CPU) {
                throw new IllegalArgumentException("CPU range '" + part + "' (expected: low-high, at most " + MAX_CPU + ")");
            }
            cpus.set(low, high + 1);
        }
        return cpus;
    }
}
