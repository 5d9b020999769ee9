package dev.tessera.agent.warmup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class CompilerPriorityTest {

    @Test
    void c2ThreadsGetTheNiceValueAndNoOtherThreadChanges() throws IOException {
        Map<Integer, Integer> before = niceByThread();
        Map<Integer, String> names = namesByThread();
        assumeTrue(names.values().stream().anyMatch(n -> n.startsWith(CompilerPriority.C2_THREAD_PREFIX)),
                "this JVM runs C2 (not -XX:TieredStopAtLevel<4)");

        int changed = CompilerPriority.yieldToDataPath(7);

        Map<Integer, Integer> after = niceByThread();
        int c2 = 0;
        for (var e : names.entrySet()) {
            Integer now = after.get(e.getKey());
            if (now == null) {
                continue; // ended meanwhile
            }
            if (e.getValue().startsWith(CompilerPriority.C2_THREAD_PREFIX)) {
                c2++;
                assertThat(now).as("nice of %s", e.getValue()).isEqualTo(7);
            } else {
                assertThat(now).as("nice of %s", e.getValue()).isEqualTo(before.get(e.getKey()));
            }
        }
        assertThat(changed).isEqualTo(c2).isPositive();
    }

    @Test
    void zeroLeavesThePrioritiesAlone() throws IOException {
        Map<Integer, Integer> before = niceByThread();
        assertThat(CompilerPriority.yieldToDataPath(0)).isZero();
        niceByThread().forEach((tid, nice) -> {
            if (before.containsKey(tid)) {
                assertThat(nice).isEqualTo(before.get(tid));
            }
        });
    }

    @Test
    void theNiceValueComesFromASystemPropertyWithinZeroToNineteen() {
        String old = System.getProperty("tessera.agent.jitNice");
        try {
            System.clearProperty("tessera.agent.jitNice");
            assertThat(CompilerPriority.configuredNice()).isEqualTo(CompilerPriority.DEFAULT_NICE);
            System.setProperty("tessera.agent.jitNice", "19");
            assertThat(CompilerPriority.configuredNice()).isEqualTo(19);
            System.setProperty("tessera.agent.jitNice", "0");
            assertThat(CompilerPriority.configuredNice()).isZero();
            System.setProperty("tessera.agent.jitNice", "20");
            assertThat(CompilerPriority.configuredNice()).isEqualTo(CompilerPriority.DEFAULT_NICE);
            System.setProperty("tessera.agent.jitNice", "-5");
            assertThat(CompilerPriority.configuredNice()).isEqualTo(CompilerPriority.DEFAULT_NICE);
            System.setProperty("tessera.agent.jitNice", "high");
            assertThat(CompilerPriority.configuredNice()).isEqualTo(CompilerPriority.DEFAULT_NICE);
        } finally {
            if (old == null) {
                System.clearProperty("tessera.agent.jitNice");
            } else {
                System.setProperty("tessera.agent.jitNice", old);
            }
        }
    }

    /** Field 19 of /proc/self/task/TID/stat (after the parenthesised name) is the thread's nice value. */
    private static Map<Integer, Integer> niceByThread() throws IOException {
        Map<Integer, Integer> out = new HashMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    String stat = Files.readString(t.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    out.put(Integer.parseInt(t.getFileName().toString()), Integer.parseInt(f[16]));
                } catch (IOException e) {
                    // thread ended
                }
            }
        }
        return out;
    }

    private static Map<Integer, String> namesByThread() throws IOException {
        Map<Integer, String> out = new HashMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    out.put(Integer.parseInt(t.getFileName().toString()), Files.readString(t.resolve("comm")).strip());
                } catch (IOException e) {
                    // thread ended
                }
            }
        }
        return out;
    }
}
