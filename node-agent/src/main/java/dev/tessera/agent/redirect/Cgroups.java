package dev.tessera.agent.redirect;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Finding the cgroup v2 hierarchy the redirect programs attach to. */
public final class Cgroups {

    private Cgroups() {}

    /**
     * The mount point of the cgroup v2 file system ({@code /sys/fs/cgroup} on unified hosts,
     * {@code /sys/fs/cgroup/unified} on hybrid ones), from {@code /proc/self/mountinfo}.
     *
     * @throws IllegalStateException when no cgroup2 file system is mounted
     */
    public static Path v2Root() {
        return v2Root(Mounts.current()).orElseThrow(() -> new IllegalStateException(
                "no cgroup2 file system in /proc/self/mountinfo (hint: mount -t cgroup2 none /sys/fs/cgroup)"));
    }

    static Optional<Path> v2Root(List<Mounts.Mount> mounts) {
        return mounts.stream().filter(m -> m.fsType().equals("cgroup2")).map(Mounts.Mount::mountPoint).findFirst();
    }

    /** The kernel's id of a cgroup v2 directory (its inode number), as BPF link info reports it. */
    public static long id(Path cgroupDir) {
        try {
            return ((Number) Files.getAttribute(cgroupDir, "unix:ino")).longValue();
        } catch (IOException e) {
            throw new UncheckedIOException("cgroup " + cgroupDir + ": cannot stat", e);
        }
    }
}
