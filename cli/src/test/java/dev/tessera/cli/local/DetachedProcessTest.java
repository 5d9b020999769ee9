package dev.tessera.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DetachedProcessTest {

    @TempDir
    Path dir;

    /** A process of this test's own, in this test's own network namespace (nsenter into the same one). */
    private DetachedProcess sleeper() {
        return new DetachedProcess("test sleeper", dir.resolve("sleeper.pid"), dir.resolve("sleeper.log"));
    }

    @Test
    void theRecordedProcessIsFoundByItsStartTicksWhateverTheWallClockSaysNow() throws Exception {
        var p = sleeper();
        long pid = p.start(Path.of("/proc/self/ns/net"), List.of("sleep", "60"));
        try {
            String[] fields = Files.readString(p.pidFile()).trim().split("\\s+");
            assertThat(fields).hasSize(3);
            assertThat(Long.parseLong(fields[0])).isEqualTo(pid);
            assertThat(Long.parseLong(fields[2])).isEqualTo(DetachedProcess.startTicks(pid)).isPositive();
            assertThat(p.handle()).map(ProcessHandle::pid).contains(pid);

            // a wall-clock step moves ProcessHandle's start instant, not the ticks: the process is still ours
            Files.writeString(p.pidFile(), pid + " " + (Long.parseLong(fields[1]) - 7_200_000L) + " " + fields[2] + "\n");
            assertThat(p.handle()).map(ProcessHandle::pid).contains(pid);

            // another start time is another process that reused the pid: never ours
            Files.writeString(p.pidFile(), pid + " " + fields[1] + " " + (Long.parseLong(fields[2]) + 1) + "\n");
            assertThat(p.handle()).isEmpty();

            // a pid file of an older CLI (pid and start instant) is still read as before
            Files.writeString(p.pidFile(), pid + " " + fields[1] + "\n");
            assertThat(p.handle()).map(ProcessHandle::pid).contains(pid);

            Files.writeString(p.pidFile(), String.join(" ", fields) + "\n");
            p.kill();
            assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).isEmpty();
            assertThat(p.handle()).isEmpty();
        } finally {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void noSuchProcessHasNoStartTicks() {
        assertThat(DetachedProcess.startTicks(Long.MAX_VALUE)).isEqualTo(-1L);
    }
}
