package dev.tessera.agent.redirect.ffi;

import java.lang.invoke.VarHandle;
import jnr.ffi.Pointer;

/**
 * A BPF ring buffer used as a doorbell: {@link #await} sleeps in {@code epoll_wait} until a BPF program has
 * written a record, then consumes every record unread (the consumer position jumps to the producer's) and returns,
 * so the caller reads whatever the records announce from where it is kept (e.g. a queue map). An idle ring wakes
 * no thread; a closed bell wakes its waiter through an eventfd.
 *
 * <p>Why unread records may be skipped: a program writes its record after what it announces, and the caller reads
 * after the jump. A record still being written when the consumer jumps past it announces something already there
 * to read; its commit then wakes no one (the kernel wakes a waiter only for a record at the consumer position),
 * which is right, because the read that follows the jump finds it. Layout of the mapping
 * ({@code kernel/bpf/ringbuf.c}): page 0 holds the consumer position (the only page user space may write), page
 * 1 the producer position.
 *
 * <p>One thread calls {@link #await}; {@link #close} may come from any thread. The mappings and descriptors are
 * released by whichever of the two comes last, never under a waiter.
 */
public final class RingBell implements AutoCloseable {

    private final Bpf bpf;
    private final String name;
    private final int mapFd;
    private final int epollFd;
    private final int closeFd;
    private final long page;
    private final Pointer consumer;
    private final Pointer producer;
    private final Pointer events;
    private boolean waiting;
    private boolean closed;

    private RingBell(Bpf bpf, String name, int mapFd, int epollFd, int closeFd, long page, Pointer consumer,
            Pointer producer) {
        this.bpf = bpf;
        this.name = name;
        this.mapFd = mapFd;
        this.epollFd = epollFd;
        this.closeFd = closeFd;
        this.page = page;
        this.consumer = consumer;
        this.producer = producer;
        this.events = bpf.direct(2 * 16); // two struct epoll_event (12 bytes packed on x86-64, 16 elsewhere)
    }

    /** Opens the pinned RINGBUF map at {@code pinPath}; {@code name} names it in errors. */
    public static RingBell openPinned(String name, String pinPath) {
        Bpf bpf = Bpf.get();
        LibC libc = bpf.libc();
        int mapFd = bpf.objGet(pinPath, "map " + name);
        int epollFd = -1;
        int closeFd = -1;
        Pointer consumer = null;
        Pointer producer = null;
        long page = libc.sysconf(LibC.SC_PAGESIZE);
        try {
            consumer = map(bpf, name, page, LibC.PROT_READ | LibC.PROT_WRITE, mapFd, 0);
            producer = map(bpf, name, page, LibC.PROT_READ, mapFd, page);
            epollFd = fd(bpf, libc.epoll_create1(LibC.EPOLL_CLOEXEC), name + ": epoll_create1");
            closeFd = fd(bpf, libc.eventfd(0, LibC.EFD_CLOEXEC), name + ": eventfd");
            for (int fd : new int[] {mapFd, closeFd}) {
                Pointer ev = bpf.direct(16);
                ev.putInt(0, LibC.EPOLLIN);
                fd(bpf, libc.epoll_ctl(epollFd, LibC.EPOLL_CTL_ADD, fd, ev), name + ": epoll_ctl");
            }
            return new RingBell(bpf, name, mapFd, epollFd, closeFd, page, consumer, producer);
        } catch (RuntimeException e) {
            unmap(libc, consumer, page);
            unmap(libc, producer, page);
            bpf.close(closeFd);
            bpf.close(epollFd);
            bpf.close(mapFd);
            throw e;
        }
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: without limit) for the ring to have records, consumes them all and
     * returns true; false after the timeout, an interrupted wait (a signal) or {@link #close}.
     */
    public boolean await(int timeoutMillis) {
        synchronized (this) {
            if (closed) {
                return false;
            }
            waiting = true;
        }
        int n;
        int errno;
        try {
            n = bpf.libc().epoll_wait(epollFd, events, 2, timeoutMillis);
            errno = n < 0 ? bpf.lastErrno() : 0;
        } catch (RuntimeException | Error e) {
            synchronized (this) {
                waiting = false;
                if (closed) {
                    release();
                }
            }
            throw e;
        }
        synchronized (this) {
            waiting = false;
            if (closed) {
                release();
                return false;
            }
            if (n > 0) {
                consumer.putLong(0, producer.getLong(0));
                VarHandle.fullFence(); // the new consumer position before what the caller reads next
            }
        }
        if (n < 0 && errno != LibC.EINTR) {
            throw new BpfException(name + ": epoll_wait", -errno);
        }
        return n > 0;
    }

    /** Records written and not yet consumed, in bytes (headers included). */
    public synchronized long pendingBytes() {
        return closed ? 0 : producer.getLong(0) - consumer.getLong(0);
    }

    /** Wakes a waiter (its {@link #await} returns false) and releases the ring once no one waits. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (waiting) {
            Pointer one = bpf.direct(8);
            one.putLong(0, 1);
            bpf.libc().write(closeFd, one, 8);
        } else {
            release();
        }
    }

    /** Once: by {@link #close} when no one waits, else by the waiter leaving {@link #await} after the close. */
    private void release() {
        LibC libc = bpf.libc();
        unmap(libc, consumer, page);
        unmap(libc, producer, page);
        bpf.close(closeFd);
        bpf.close(epollFd);
        bpf.close(mapFd);
    }

    private static Pointer map(Bpf bpf, String name, long length, int prot, int fd, long offset) {
        Pointer p = bpf.libc().mmap(null, length, prot, LibC.MAP_SHARED, fd, offset);
        if (p == null || p.address() == -1L) {
            throw new BpfException(name + ": mmap at offset " + offset, -bpf.lastErrno());
        }
        return p;
    }

    private static int fd(Bpf bpf, int rc, String what) {
        if (rc < 0) {
            throw new BpfException(what, -bpf.lastErrno());
        }
        return rc;
    }

    private static void unmap(LibC libc, Pointer p, long length) {
        if (p != null) {
            libc.munmap(p, length);
        }
    }
}
