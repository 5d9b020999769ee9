package dev.tessera.tests.harness;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.IntByReference;

/**
 * A TCP client socket made with libc calls, for what the JDK hides: the JDK answers
 * {@code getRemoteAddress()} from the address it connected to, while this asks the kernel
 * ({@code getpeername(2)}), which is what the mesh's getpeername hook must keep unchanged.
 */
public final class RawSocket implements AutoCloseable {

    private static final int AF_INET = 2;
    private static final int SOCK_STREAM = 1;

    /** The libc calls used. */
    public interface LibC {
        @SaveError int socket(int domain, int type, int protocol);
        @SaveError int connect(int fd, @In byte[] addr, int len);
        @SaveError int getpeername(int fd, @Out byte[] addr, IntByReference len);
        @SaveError long write(int fd, @In byte[] buf, long n);
        @SaveError long read(int fd, @Out byte[] buf, long n);
        int close(int fd);
    }

    private static final class Holder {
        static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
        static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
    }

    private final int fd;

    private RawSocket(int fd) {
        this.fd = fd;
    }

    /** socket() + blocking connect() in the calling thread's network namespace. */
    public static RawSocket connect(InetSocketAddress to) throws IOException {
        int fd = Holder.LIBC.socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            throw new IOException("socket: errno " + Holder.RUNTIME.getLastError());
        }
        byte[] sa = new byte[16];
        sa[0] = AF_INET; // sa_family, host (little-endian) order
        sa[2] = (byte) (to.getPort() >> 8); // sin_port, network order
        sa[3] = (byte) to.getPort();
        System.arraycopy(to.getAddress().getAddress(), 0, sa, 4, 4);
        if (Holder.LIBC.connect(fd, sa, sa.length) != 0) {
            int errno = Holder.RUNTIME.getLastError();
            Holder.LIBC.close(fd);
            throw new IOException("connect " + to + ": errno " + errno);
        }
        return new RawSocket(fd);
    }

    /** The kernel's answer to getpeername(2). */
    public InetSocketAddress peer() throws IOException {
        byte[] sa = new byte[16];
        var len = new IntByReference(sa.length);
        if (Holder.LIBC.getpeername(fd, sa, len) != 0) {
            throw new IOException("getpeername: errno " + Holder.RUNTIME.getLastError());
        }
        int port = (sa[2] & 0xff) << 8 | (sa[3] & 0xff);
        return new InetSocketAddress(InetAddress.getByAddress(new byte[] {sa[4], sa[5], sa[6], sa[7]}), port);
    }

    public void write(byte[] data) throws IOException {
        if (Holder.LIBC.write(fd, data, data.length) != data.length) {
            throw new IOException("write: errno " + Holder.RUNTIME.getLastError());
        }
    }

    /** One read(2) of up to {@code max} bytes; empty array at EOF. */
    public byte[] read(int max) throws IOException {
        byte[] buf = new byte[max];
        long n = Holder.LIBC.read(fd, buf, max);
        if (n < 0) {
            throw new IOException("read: errno " + Holder.RUNTIME.getLastError());
        }
        return java.util.Arrays.copyOf(buf, (int) n);
    }

    @Override
    public void close() {
        Holder.LIBC.close(fd);
    }
}
