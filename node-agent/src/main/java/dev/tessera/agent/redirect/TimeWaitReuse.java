package dev.tessera.agent.redirect;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.LibC;
import dev.tessera.api.netns.Netns;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets an enrolled pod reuse its own TIME_WAIT connections to the agent ({@code net.ipv4.tcp_tw_reuse=1} in the
 * pod's network namespace; it covers IPv6 too).
 *
 * <p>Why: capture connects every outgoing connection of a pod to the same agent address ({@code node-ip:15001}),
 * so the pod's TIME_WAIT entries, which the side that closes first keeps for 60 s, all share one 4-tuple space of
 * about 28,000 source ports. Without the mesh they are spread over the destinations. A client that closes first
 * (HTTP/1.0, {@code Connection: close} clients that stop after the body, most connection pools on eviction) then
 * found its ports exhausted after ~14,000 connections in a minute: {@code connect()} scanned the busy half of the
 * port range for milliseconds each and the pod fell to ~230 new connections per second (measured with
 * {@code wrk -H "Connection: close"}, 2026-12-07). With reuse the kernel takes a TIME_WAIT port again once it is a
 * second old and the connection's timestamps prove the new one is newer, which is safe by protocol (RFC 6191).
 *
 * <p>Only the kernel's default (2: loopback only) is raised: a pod that set 0 or 1 itself keeps it. A pod that
 * leaves the mesh keeps 1 (harmless; restoring would need its namespace, which is often already gone).
 *
 * <p>Where the agent's {@code /proc/sys} is read-only (the container runtime mounts it so in an unprivileged
 * container, as the DaemonSet's agent is), the thread that writes takes a mount namespace of its own and mounts a
 * fresh procfs over {@code /proc} in it ({@code CAP_SYS_ADMIN}, which the agent holds for {@code setns} anyway):
 * nothing changes for the agent's other threads or the node, and the namespace goes away with the thread. If that
 * fails too (e.g. an LSM forbids the mount), {@link Enrollment} warns once and the pods keep the default.
 */
public final class TimeWaitReuse implements PodTuning {

    private static final Logger log = LoggerFactory.getLogger(TimeWaitReuse.class);

    static final Path SYSCTL = Path.of("/proc/sys/net/ipv4/tcp_tw_reuse");
    /** The kernel's default: reuse only for loopback connections. */
    static final String KERNEL_DEFAULT = "2";
    static final String REUSE = "1";

    @Override
    public void apply(String pod, Path netns) throws IOException {
        // /proc/sys/net shows the namespace of the thread that opens it: Netns.call's thread is in the pod's.
        String before = Netns.call(netns, () -> {
            String current = Files.readString(SYSCTL, StandardCharsets.US_ASCII).strip();
            Optional<String> raised = raised(current);
            if (raised.isPresent()) {
                if (!Files.isWritable(SYSCTL)) {
                    privateProc(); // Netns.call's thread: it ends after this task, and its mount namespace with it
                }
                Files.write(SYSCTL, raised.get().getBytes(StandardCharsets.US_ASCII), StandardOpenOption.WRITE);
            }
            return current;
        });
        if (raised(before).isPresent()) {
            log.debug("pod {}: net.ipv4.tcp_tw_reuse {} -> {}", pod, before, REUSE);
        } else {
            log.debug("pod {}: net.ipv4.tcp_tw_reuse left at {} (set by the pod)", pod, before);
        }
    }

    /**
     * Gives the CALLING thread its own mount namespace, private to it, with a new procfs on {@code /proc}: a
     * writable {@code /proc/sys} showing the thread's network namespace. Only for threads that end afterwards.
     */
    static void privateProc() throws IOException {
        Bpf bpf = Bpf.get();
        LibC libc = bpf.libc();
        if (libc.unshare(LibC.CLONE_NEWNS) != 0) {
            throw new IOException("unshare(CLONE_NEWNS): errno " + bpf.lastErrno() + " (expected: CAP_SYS_ADMIN)");
        }
        if (libc.mount(null, "/", null, LibC.MS_REC | LibC.MS_PRIVATE, null) != 0) {
            throw new IOException("mount --make-rprivate /: errno " + bpf.lastErrno());
        }
        if (libc.mount("proc", "/proc", "proc", LibC.MS_NOSUID | LibC.MS_NODEV | LibC.MS_NOEXEC, null) != 0) {
            throw new IOException("mount -t proc proc /proc (in a private mount namespace, /proc/sys being read-only):"
                    + " errno " + bpf.lastErrno());
        }
    }

    /** The value to write for the current one, or empty to leave it. */
    static Optional<String> raised(String current) {
        return KERNEL_DEFAULT.equals(current) ? Optional.of(REUSE) : Optional.empty();
    }
}
