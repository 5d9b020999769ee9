package dev.tessera.cli.local;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An exclusive lock on one node's agent processes ({@code agent-<node>.lock} in the cluster's state directory),
 * held by whatever replaces or stops them: {@code restart-agent} and {@code local down}. Two of those on one node at
 * once used to interleave their moves of the pid files: the second restart could record the first one's new agent
 * as the "previous" one, over the old agent's pid, and that old agent then ran on with no pid file, out of reach of
 * {@code local down}.
 *
 * <p>The file lock ({@code fcntl}) excludes other processes and goes away with its process, also when it is killed;
 * the in-process lock excludes other threads of this JVM, which {@code fcntl} does not (Java throws on an
 * overlapping lock of its own instead). A second caller waits, saying so once on {@code waiting}.
 */
final class NodeLock implements AutoCloseable {

    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    private final ReentrantLock local;
    private final FileChannel channel;
    private final FileLock lock;

    private NodeLock(ReentrantLock local, FileChannel channel, FileLock lock) {
        this.local = local;
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock at {@code file} (created if missing), waiting for its holder; {@code what} names it. */
    static NodeLock acquire(Path file, String what, PrintStream waiting) throws IOException {
        ReentrantLock local = IN_PROCESS.computeIfAbsent(file.toAbsolutePath().normalize(), f -> new ReentrantLock());
        if (!local.tryLock()) {
            waiting.println("waiting for another operation on " + what + " in this process to finish");
            local.lock();
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                waiting.println("waiting for another operation on " + what + " to finish (it holds " + file + ")");
                lock = channel.lock();
            }
            return new NodeLock(local, channel, lock);
        } catch (IOException | RuntimeException e) {
            if (channel != null) {
                channel.close();
            }
            local.unlock();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
            channel.close();
        } finally {
            local.unlock();
        }
    }
}
