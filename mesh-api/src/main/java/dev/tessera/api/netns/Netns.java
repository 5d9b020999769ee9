package dev.tessera.api.netns;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.LongLongByReference;

/**
 * Network namespaces from Java. {@code setns(CLONE_NEWNET)} switches only the calling thread, and
 * sockets keep the namespace they were created in; so {@link #call} runs code on a fresh thread that
 * joins the namespace first and is discarded afterwards.
 */
public final class Netns {

    private static final int CLONE_NEWNET = 0x40000000;
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000;
    private static final int AF_INET = 2;
    private static final int SOCK_DGRAM = 2;
    private static final int SOL_SOCKET = 1;
    private static final int SO_NETNS_COOKIE = 71;

    /** The libc calls used here. */
    public interface LibC {
        @SaveError
        int open(String path, int flags);

        @SaveError
        int close(int fd);

        @SaveError
        int setns(int fd, int nstype);

        @SaveError
        int socket(int domain, int type, int protocol);

        @SaveError
        int getsockopt(int fd, int level, int name, @Out LongLongByReference value, IntByReference len);
    }

    private static final class Holder {
        static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
        static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
    }

    private Netns() {}

    /** Runs {@code task} with the calling thread inside the network namespace at {@code path}. */
    public static <T> T call(Path path, Callable<T> task) throws IOException {
        requireNonNull(path, "path");
        requireNonNull(task, "task");
        var future = new FutureTask<T>(() -> {
            enter(path);
            return task.call();
        });
        Thread t = new Thread(future, "netns-" + path.getFileName());
        t.setDaemon(true);
        t.start();
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running in " + path, e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(c.getMessage() + " (in netns " + path + ")", c);
        }
    }

    /**
     * Moves the CALLING thread into the namespace at {@code path} for good. Only for threads that are
     * dedicated to that namespace (see {@link #call}).
     */
    public static void enter(Path path) throws IOException {
        LibC libc = Holder.LIBC;
        int fd = libc.open(path.toString(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            throw new IOException("netns: cannot open " + path + ": errno " + Holder.RUNTIME.getLastError());
        }
        try {
            if (libc.setns(fd, CLONE_NEWNET) != 0) {
                throw new IOException("netns: setns(" + path + ") failed: errno " + Holder.RUNTIME.getLastError()
                        + " (expected: CAP_SYS_ADMIN and a network namespace file)");
            }
        } finally {
            libc.close(fd);
        }
    }

    /** The kernel's cookie of the network namespace at {@code path} ({@code SO_NETNS_COOKIE}). */
    public static long cookie(Path path) throws IOException {
        return call(path, Netns::currentCookie);
    }

    /** The cookie of the calling thread's network namespace. */
    public static long currentCookie() throws IOException {
        LibC libc = Holder.LIBC;
        int fd = libc.socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0) {
            throw new IOException("netns: socket() failed: errno " + Holder.RUNTIME.getLastError());
        }
        try {
            var value = new LongLongByReference();
            var len = new IntByReference(8);
            if (libc.getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, value, len) != 0) {
                throw new IOException("netns: SO_NETNS_COOKIE failed: errno " + Holder.RUNTIME.getLastError()
                        + " (expected: kernel 5.14 or newer)");
            }
            return value.getValue();
        } finally {
            libc.close(fd);
        }
    }
}
