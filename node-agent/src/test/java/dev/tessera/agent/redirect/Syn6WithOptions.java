package dev.tessera.agent.redirect;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.SaveError;

/**
 * An IPv6 TCP connect whose SYN carries an extension header (a sticky {@code IPV6_DSTOPTS} or {@code IPV6_HOPOPTS}
 * option, root only), straight through libc, so the ingress program must find the TCP header behind it.
 */
final class Syn6WithOptions {

    static final int IPV6_HOPOPTS = 54;
    static final int IPV6_DSTOPTS = 59;
    private static final int AF_INET6 = 10;
    private static final int SOCK_STREAM = 1;
    private static final int SOL_SOCKET = 1;
    private static final int SO_SNDTIMEO = 21;
    private static final int IPPROTO_IPV6 = 41;
    private static final int EINPROGRESS = 115;

    /** libc. */
    public interface C {
        @SaveError
        int socket(int domain, int type, int protocol);

        @SaveError
        int setsockopt(int fd, int level, int name, @In byte[] value, int len);

        @SaveError
        int connect(int fd, @In byte[] addr, int len);

        int close(int fd);
    }

    private static final C LIBC = LibraryLoader.create(C.class).load("c");
    private static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

    private Syn6WithOptions() {}

    /**
     * connect() to {@code dst} with one 8-byte option header of type {@code option} (PadN inside) on the calling
     * thread's namespace: "connected", "timeout" (the SYN went unanswered) or "failed: errno N".
     */
    static String connect(int option, InetSocketAddress dst, int timeoutMillis) {
        if (!(dst.getAddress() instanceof Inet6Address)) {
            throw new IllegalArgumentException("dst: " + dst + " (expected: IPv6)");
        }
        int fd = LIBC.socket(AF_INET6, SOCK_STREAM, 0);
        if (fd < 0) {
            throw new IllegalStateException("socket: errno " + RUNTIME.getLastError());
        }
        try {
            // struct ipv6_opt_hdr {nexthdr (set by the kernel), hdrlen 0 = 8 bytes}, then PadN with 4 zero bytes
            byte[] opt = {0, 0, 1, 4, 0, 0, 0, 0};
            check(LIBC.setsockopt(fd, IPPROTO_IPV6, option, opt, opt.length), "setsockopt(option " + option + ")");
            byte[] tv = new byte[16]; // struct timeval, little-endian x86_64
            long sec = timeoutMillis / 1000;
            long usec = (timeoutMillis % 1000) * 1000L;
            for (int i = 0; i < 8; i++) {
                tv[i] = (byte) (sec >>> (8 * i));
                tv[8 + i] = (byte) (usec >>> (8 * i));
            }
            check(LIBC.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, tv.length), "setsockopt(SO_SNDTIMEO)");
            byte[] sa = new byte[28];
            sa[0] = AF_INET6;
            sa[2] = (byte) (dst.getPort() >> 8);
            sa[3] = (byte) dst.getPort();
            System.arraycopy(dst.getAddress().getAddress(), 0, sa, 8, 16);
            if (LIBC.connect(fd, sa, sa.length) == 0) {
                return "connected";
            }
            int errno = RUNTIME.getLastError();
            return errno == EINPROGRESS ? "timeout" : "failed: errno " + errno;
        } finally {
            LIBC.close(fd);
        }
    }

    private static void check(int rc, String what) {
        if (rc != 0) {
            throw new IllegalStateException(what + ": errno " + RUNTIME.getLastError());
        }
    }
}
