package dev.tessera.agent.redirect.ffi;

/**
 * A BPF or bpffs operation failed. The message names the operation and its object (program, map or
 * pin), the errno and a hint.
 */
public final class BpfException extends RuntimeException {

    private final int errno;

    public BpfException(String message, int errno) {
        super(message + ": " + Errno.describe(errno) + Errno.hint(errno));
        this.errno = Math.abs(errno);
    }

    public BpfException(String message, Throwable cause) {
        super(message, cause);
        this.errno = 0;
    }

    /** The positive errno, or 0 when the failure did not come with one. */
    public int errno() {
        return errno;
    }
}
