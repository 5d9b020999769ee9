package dev.tessera.agent.redirect.ffi;

import jnr.ffi.annotations.SaveError;

/** The few libc calls the redirect package needs (errno through {@link SaveError}). */
public interface LibC {

    int O_RDONLY = 0;
    int O_DIRECTORY = 0x10000;
    int O_CLOEXEC = 0x80000;

    @SaveError
    int open(String path, int flags);

    @SaveError
    int close(int fd);

    @SaveError
    int mount(String source, String target, String fsType, long flags, String data);
}
