package dev.tessera.cli.local;

import dev.tessera.localcluster.CpuList;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;

/** The CPUs this machine has online, against which a node's {@code tessera.dev/local-cpus} is checked at {@code up}. */
final class OnlineCpus {

    static final Path ONLINE = Path.of("/sys/devices/system/cpu/online");

    private OnlineCpus() {}

    /** The CPUs online now, as a CPU list ({@code /sys/devices/system/cpu/online}). */
    static String online() throws IOException {
        return Files.readString(ONLINE).strip();
    }

    /**
     * Checks that every CPU of {@code list} is online; {@code what} names the field in the error, e.g.
     * {@code "Node node2: metadata.annotations[tessera.dev/local-cpus]"}.
     */
    static void require(String what, String list, String online) throws IOException {
        BitSet missing = CpuList.parse(list);
        missing.andNot(CpuList.parse(online));
        if (!missing.isEmpty()) {
            throw new IOException(what + ": '" + list + "' names CPU " + missing.nextSetBit(0)
                    + ", which this machine does not have online (expected: CPUs among " + online + ")");
        }
    }
}
