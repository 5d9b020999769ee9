package dev.tessera.cli.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;

/**
 * A CPU list in the kernel's syntax ({@code "1"}, {@code "0-3,6"}): what {@code /sys/devices/system/cpu/online}
 * holds and {@code taskset -c} takes. Used for a node's {@code tessera.dev/local-cpus} (the agent of that node runs
 * on those CPUs only).
 */
final class CpuList {

    static final Path ONLINE = Path.of("/sys/devices/system/cpu/online");

    private CpuList() {}

    /** The CPUs of {@code list}; the syntax was validated with the manifests (ClusterValidator). */
    static BitSet parse(String list) {
        var cpus = new BitSet();
        for (String part : list.trim().split(",")) {
            String[] r = part.split("-");
            int low = Integer.parseInt(r[0].trim());
            int high = Integer.parseInt(r[r.length - 1].trim());
            if (low > high) {
                throw new IllegalArgumentException("CPU range '" + part + "' (expected: low-high)");
            }
            cpus.set(low, high + 1);
        }
        return cpus;
    }

    /** The CPUs this machine has online now. */
    static String online() throws IOException {
        return Files.readString(ONLINE).trim();
    }

    /**
     * Checks that every CPU of {@code list} is online; {@code what} names the field in the error, e.g.
     * {@code "Node node2: metadata.annotations[tessera.dev/local-cpus]"}.
     */
    static void requireOnline(String what, String list, String online) throws IOException {
        BitSet wanted = parse(list);
        BitSet missing = (BitSet) wanted.clone();
        missing.andNot(parse(online));
        if (!missing.isEmpty()) {
            throw new IOException(what + ": '" + list + "' names CPU " + missing.nextSetBit(0)
                    + ", which this machine does not have online (expected: CPUs among " + online + ")");
        }
    }
}
