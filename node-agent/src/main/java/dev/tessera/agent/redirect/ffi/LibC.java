package dev.tessera.agent.redirect.ffi;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;

/** The few libc calls the redirect package needs (errno through {@link SaveError}, read with {@code Bpf.lastErrno}). */
public interface LibC {

    int O_RDONLY = 0;
    int O_DIRECTORY = 0x10000;
    int O_CLOEXEC = 0x80000;

    int CLONE_NEWNS = 0x00020000;
    long MS_RDONLY = 1;
    long MS_NOSUID = 2;
    long MS_NODEV = 4;
    long MS_NOEXEC = 8;
    long MS_REMOUNT = 32;
    long MS_BIND = 4096;
    long MS_REC = 16384;
    long MS_PRIVATE = 1 << 18;

    int EINTR = 4;
    int EFD_CLOEXEC = 0x80000;
    int EPOLL_CLOEXEC = 0x80000;
    int EPOLL_CTL_ADD = 1;
    int EPOLLIN = 1;
    int PROT_READ = 1;
    int PROT_WRITE = 2;
    int MAP_SHARED = 1;
    /** {@code _SC_PAGESIZE}. */
    int SC_PAGESIZE = 30;

    @SaveError
    int open(String path, int flags);

    @SaveError
    int close(int fd);

    @SaveError
    int mount(String source, String target, String fsType, long flags, String data);

    @SaveError
    int unshare(int flags);

    @SaveError
    int eventfd(int initval, int flags);

    @SaveError
    long write(int fd, Pointer buf, long count);

    @SaveError
    int epoll_create1(int flags);

    @SaveError
    int epoll_ctl(int epfd, int op, int fd, Pointer event);

    @SaveError
    int epoll_wait(int epfd, Pointer events, int maxEvents, int timeoutMillis);

    /** Returns {@code MAP_FAILED} ({@code (void *) -1}) on failure. */
    @SaveError
    Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    @SaveError
    int munmap(Pointer addr, long length);

    long sysconf(int name);
}
