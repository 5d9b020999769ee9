package dev.tessera.agent.warmup;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.SaveError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets the JIT's optimising compiler (C2) yield the CPU to the data path once the start-up warm-up compiled the
 * hot paths: its threads get a higher nice value, so the kernel runs the event loops first and C2 compiles in
 * what they leave over.
 *
 * <p>Why (issue 10, measured on the bench cluster, agent on one core): in the first second of pods' traffic after
 * a start the C2 thread took 46-53 % of the agent's core recompiling methods the warm-up had compiled for other
 * types and branches (78 of the 220 C2 compilations after readiness, 2.3 s of 3.1 s of C2 time: {@code
 * class_check}, {@code bimorphic} and {@code unstable_if} traps), while the event loop served a request for about
 * 1.3x its steady-state CPU. The pods lost the CPU the compiler took, not speed of the code they ran. With C2 at
 * nice 10 the event loops win that core; C2 still compiles in the idle time between bursts and whenever the node
 * has a spare core.
 *
 * <p>Raising a thread's own nice value needs no privilege. Only the compiler threads that exist are changed: the
 * JVM options turn off dynamic compiler threads ({@code -XX:-UseDynamicNumberOfCompilerThreads}) so that all of
 * them exist from the start.
 */
public final class CompilerPriority {

    private static final Logger log = LoggerFactory.getLogger(CompilerPriority.class);

    /** The nice value C2 gets after the warm-up; 0 would leave it as it is (system property {@code tessera.agent.jitNice}). */
    public static final int DEFAULT_NICE = 10;

    /** Linux thread names ({@code comm}, 15 characters) of HotSpot's C2 compiler threads. */
    static final String C2_THREAD_PREFIX = "C2 CompilerThre";

    private static final int PRIO_PROCESS = 0;

    /**
     * The one libc call this needs. Public because JNR-FFI implements it in a class loader of its own, which cannot
     * reach a package-private interface. Its own rather than {@code redirect.ffi.LibC}: the warm-up does not depend
     * on the capture package.
     */
    public interface Libc {
        @SaveError
        int setpriority(int which, int who, int prio);
    }

    private CompilerPriority() {}

    /** The nice value configured for this JVM (system property {@code tessera.agent.jitNice}, else {@link #DEFAULT_NICE}). */
    public static int configuredNice() {
        String v = System.getProperty("tessera.agent.jitNice");
        if (v == null || v.isBlank()) {
            return DEFAULT_NICE;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 0 && n <= 19) {
                return n;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        log.warn("tessera.agent.jitNice={} ignored: expected a nice value 0-19; using {}", v, DEFAULT_NICE);
        return DEFAULT_NICE;
    }

    /**
     * Sets the nice value of this JVM's C2 compiler threads to {@code nice} (0 leaves them alone). Never throws: a
     * JVM without C2 threads or a system without {@code /proc} changes nothing.
     *
     * @return how many threads were changed
     */
    public static int yieldToDataPath(int nice) {
        if (nice <= 0) {
            return 0;
        }
        int changed = 0;
        try {
            Libc libc = LibraryLoader.create(Libc.class).load("c");
            try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
                for (Path task : tasks) {
                    if (!isC2(task)) {
                        continue;
                    }
                    int tid = Integer.parseInt(task.getFileName().toString());
                    if (libc.setpriority(PRIO_PROCESS, tid, nice) == 0) {
                        changed++;
                    } else {
                        log.warn("could not lower the priority of compiler thread {}: errno {}", tid,
                                Runtime.getRuntime(libc).getLastError());
                    }
                }
            }
        } catch (IOException | RuntimeException | LinkageError e) {
            log.warn("compiler threads keep their priority: {}", e.toString());
        }
        return changed;
    }

    private static boolean isC2(Path task) {
        try {
            return Files.readString(task.resolve("comm")).startsWith(C2_THREAD_PREFIX);
        } catch (NoSuchFileException e) {
            return false; // the thread ended meanwhile
        } catch (IOException e) {
            return false;
        }
    }
}
