package dev.tessera.agent.redirect.ffi;

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

    @SaveError
    int open(String path, int flags);

    @SaveError
    int close(int fd);

    @SaveError
    int mount(String source, String target, String fsType, long flags, String data);

    @SaveError
    int unshare(int flags);
}
