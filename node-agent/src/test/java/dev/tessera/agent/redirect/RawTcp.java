package dev.tessera.agent.redirect;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.IntByReference;

/**
 * TCP connects straight through libc (the calls a C client makes), so the test chooses the socket family
 * (AF_INET reaches cgroup/connect4, AF_INET6 with an IPv4-mapped or a native IPv6 address reaches connect6) and
 * reads the kernel's own getpeername() instead of the JDK's cached remote address.
 */
final class RawTcp {

    static final int AF_INET = 2;
    static final int AF_INET6 = 10;
    static final int ECONNREFUSED = 111;
    private static final int SOCK_STREAM = 1;

    /** libc. */
    public interface C {
        @SaveError
        int socket(int domain, int type, int protocol);

        @SaveError
        int connect(int fd, @In byte[] addr, int len);

        @SaveError
        int getsockname(int fd, @Out byte[] addr, IntByReference len);

        @SaveError
        int getpeername(int fd, @Out byte[] addr, IntByReference len);

        int close(int fd);
    }

    private static final C LIBC = LibraryLoader.create(C.class).load("c");
    private static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

    /**
     * What one connect did.
     *
     * @param errno 0 when connect() succeeded
     * @param local getsockname() after connect (null on failure)
     * @param peer getpeername() after connect (null on failure)
     */
    record Result(int errno, InetSocketAddress local, InetSocketAddress peer) {}

    private RawTcp() {}

    /** socket(family) + connect(dst) + getsockname + getpeername + close, on the calling thread. */
    static Result connect(int family, InetSocketAddress dst) {
        int fd = LIBC.socket(family, SOCK_STREAM, 0);
        if (fd < 0) {
            throw new IllegalStateException("socket: errno " + RUNTIME.getLastError());
        }
        try {
            byte[] sa = encode(family, dst);
            if (LIBC.connect(fd, sa, sa.length) != 0) {
                return new Result(RUNTIME.getLastError(), null, null);
            }
            byte[] local = new byte[28];
            byte[] peer = new byte[28];
            check(LIBC.getsockname(fd, local, new IntByReference(28)), "getsockname");
            check(LIBC.getpeername(fd, peer, new IntByReference(28)), "getpeername");
            return new Result(0, decode(local), decode(peer));
        } finally {
            LIBC.close(fd);
        }
    }

    private static void check(int rc, String what) {
        if (rc != 0) {
            throw new IllegalStateException(what + ": errno " + RUNTIME.getLastError());
        }
    }

    static byte[] encode(int family, InetSocketAddress dst) {
        byte[] ip = dst.getAddress().getAddress();
        if (ip.length == 16) { // a native IPv6 destination: sockaddr_in6 as given (no scope id)
            byte[] sa = new byte[28];
            sa[0] = AF_INET6;
            sa[2] = (byte) (dst.getPort() >> 8);
            sa[3] = (byte) dst.getPort();
            System.arraycopy(ip, 0, sa, 8, 16);
            return sa;
        }
        byte[] ip4 = ip;
        int port = dst.getPort();
        if (family == AF_INET) {
            byte[] sa = new byte[16];
            sa[0] = AF_INET;
            sa[2] = (byte) (port >> 8);
            sa[3] = (byte) port;
            System.arraycopy(ip4, 0, sa, 4, 4);
            return sa;
        }
        byte[] sa = new byte[28];
        sa[0] = AF_INET6;
        sa[2] = (byte) (port >> 8);
        sa[3] = (byte) port;
        sa[18] = (byte) 0xff; // ::ffff:a.b.c.d at offset 8
        sa[19] = (byte) 0xff;
        System.arraycopy(ip4, 0, sa, 20, 4);
        return sa;
    }

    /** Decodes sockaddr_in or sockaddr_in6 (an IPv4-mapped one as an IPv4 address, like the JDK does). */
    static InetSocketAddress decode(byte[] sa) {
        int family = (sa[0] & 0xff) | (sa[1] & 0xff) << 8;
        int port = (sa[2] & 0xff) << 8 | (sa[3] & 0xff);
        byte[] ip = family == AF_INET ? Arrays.copyOfRange(sa, 4, 8) : Arrays.copyOfRange(sa, 8, 24);
        try {
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
