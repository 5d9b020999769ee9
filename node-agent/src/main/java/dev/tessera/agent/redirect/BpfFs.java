package dev.tessera.agent.redirect;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.BpfException;
import java.nio.file.Path;
import java.util.List;

/** Makes sure a pin directory lives on a mounted bpffs. */
final class BpfFs {

    static final Path DEFAULT_MOUNT = Path.of("/sys/fs/bpf");

    private BpfFs() {}

    /** Mounts bpffs at /sys/fs/bpf when {@code pinDir} is under it and nothing is mounted there yet. */
    static synchronized void ensureMounted(Path pinDir) {
        Path dir = pinDir.toAbsolutePath().normalize();
        if (onBpfFs(dir, Mounts.current())) {
            return;
        }
        if (!dir.startsWith(DEFAULT_MOUNT)) {
            throw new IllegalArgumentException("pinDir: " + pinDir + " (expected: a directory on a mounted bpffs,"
                    + " e.g. under " + DEFAULT_MOUNT + ")");
        }
        Bpf bpf = Bpf.get();
        if (bpf.libc().mount("bpf", DEFAULT_MOUNT.toString(), "bpf", 0, "mode=0700") != 0) {
            throw new BpfException("mount -t bpf bpf " + DEFAULT_MOUNT, bpf.lastErrno());
        }
    }

    /** True when the deepest mount containing {@code dir} is a bpffs. */
    static boolean onBpfFs(Path dir, List<Mounts.Mount> mounts) {
        Mounts.Mount best = null;
        for (Mounts.Mount m : mounts) {
            if (dir.startsWith(m.mountPoint())
                    && (best == null || m.mountPoint().getNameCount() >= best.mountPoint().getNameCount())) {
                best = m;
            }
        }
        return best != null && best.fsType().equals("bpf");
    }
}
