package dev.tessera.agent.redirect;

import static dev.tessera.agent.redirect.ffi.LibC.MS_BIND;
import static dev.tessera.agent.redirect.ffi.LibC.MS_PRIVATE;
import static dev.tessera.agent.redirect.ffi.LibC.MS_RDONLY;
import static dev.tessera.agent.redirect.ffi.LibC.MS_REC;
import static dev.tessera.agent.redirect.ffi.LibC.MS_REMOUNT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.LibC;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link TimeWaitReuse} in a real network namespace: the kernel's default is raised, a pod's own choice is kept,
 * and a read-only {@code /proc/sys} (how the container runtime mounts it for the DaemonSet's unprivileged agent)
 * does not stop it.
 */
class TimeWaitReuseNetnsIT {

    private static final String NS = "tsW-pod";
    private static final Path NETNS = NetnsFixture.path(NS);

    @BeforeEach
    void setUp() throws Exception {
        NetnsFixture.requireRoot();
        tearDown(); // leftovers of an aborted run
        run("ip", "netns", "add", NS);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (Files.exists(NETNS)) {
            run("ip", "netns", "del", NS);
        }
    }

    @Test
    void theKernelsDefaultIsRaisedAndAPodsOwnValueKept() throws Exception {
        assertThat(reuse()).isEqualTo("2"); // a new namespace has the kernel's default

        new TimeWaitReuse().apply("shop/api", NETNS);
        assertThat(reuse()).isEqualTo("1");

        run("ip", "netns", "exec", NS, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=0");
        new TimeWaitReuse().apply("shop/api", NETNS);
        assertThat(reuse()).as("a pod that switched reuse off").isEqualTo("0");
    }

    @Test
    void aReadOnlyProcSysInTheAgentIsWorkedAroundWithoutChangingIt() throws Exception {
        // The agent's view as in its container: /proc/sys bind-mounted read-only, in a mount namespace of this
        // test's own thread (threads it starts inherit it; nothing else in the JVM or on the host sees it).
        onOwnThread(() -> {
            LibC sys = Bpf.get().libc();
            assertThat(sys.unshare(LibC.CLONE_NEWNS)).isZero();
            assertThat(sys.mount(null, "/", null, MS_REC | MS_PRIVATE, null)).isZero();
            assertThat(sys.mount("/proc/sys", "/proc/sys", null, MS_BIND, null)).isZero();
            assertThat(sys.mount(null, "/proc/sys", null, MS_BIND | MS_REMOUNT | MS_RDONLY, null)).isZero();
            Path ownSysctl = TimeWaitReuse.SYSCTL; // this thread's: the host's namespace
            String hostValue = Files.readString(ownSysctl).strip();
            assertThatThrownBy(() -> Files.write(ownSysctl, hostValue.getBytes(StandardCharsets.US_ASCII),
                    StandardOpenOption.WRITE))
                    .isInstanceOf(FileSystemException.class).hasMessageContaining("Read-only");

            new TimeWaitReuse().apply("shop/api", NETNS);

            assertThat(Files.isWritable(ownSysctl)).as("this thread's /proc/sys stays read-only").isFalse();
            return null;
        });
        assertThat(reuse()).isEqualTo("1");
        assertThat(Files.isWritable(TimeWaitReuse.SYSCTL)).as("the test JVM's other threads' view").isTrue();
    }

    private static String reuse() throws Exception {
        return run("ip", "netns", "exec", NS, "sysctl", "-n", "net.ipv4.tcp_tw_reuse").strip();
    }

    private static <T> T onOwnThread(Callable<T> task) throws Exception {
        var future = new FutureTask<>(task);
        Thread t = new Thread(future, "tw-reuse-test");
        t.start();
        return future.get(30, TimeUnit.SECONDS);
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }
}
