package dev.tessera.agent.redirect.ffi;

import java.util.Map;

/** Names for the errno values the BPF syscall and bpffs return, for error messages. */
public final class Errno {

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EBADF = 9;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int E2BIG = 7;
    public static final int ENOSPC = 28;
    public static final int ENOSYS = 38;
    public static final int EOPNOTSUPP = 95;
    public static final int ENOTSUPP = 524;

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(EPERM, "EPERM"), Map.entry(ENOENT, "ENOENT"), Map.entry(3, "ESRCH"),
            Map.entry(E2BIG, "E2BIG"), Map.entry(EBADF, "EBADF"), Map.entry(ENOMEM, "ENOMEM"),
            Map.entry(EACCES, "EACCES"), Map.entry(EBUSY, "EBUSY"), Map.entry(EEXIST, "EEXIST"),
            Map.entry(19, "ENODEV"), Map.entry(20, "ENOTDIR"), Map.entry(EINVAL, "EINVAL"),
            Map.entry(ENOSPC, "ENOSPC"), Map.entry(ENOSYS, "ENOSYS"), Map.entry(EOPNOTSUPP, "EOPNOTSUPP"),
            Map.entry(ENOTSUPP, "ENOTSUPP"), Map.entry(4007, "LIBBPF_ERRNO__PROG2BIG"),
            Map.entry(4003, "LIBBPF_ERRNO__LOAD (verifier rejected the program)"));

    private Errno() {}

    /** {@code "EPERM (1)"}, or {@code "errno 123"} for values without a name here. Sign is ignored. */
    public static String describe(int errno) {
        int e = Math.abs(errno);
        String name = NAMES.get(e);
        return name == null ? "errno " + e : name + " (" + e + ")";
    }

    /** A remedy for the usual causes of this errno in BPF calls, or an empty string. */
    public static String hint(int errno) {
        return switch (Math.abs(errno)) {
            case EPERM, EACCES -> " (hint: needs root, or CAP_BPF + CAP_NET_ADMIN + CAP_SYS_ADMIN)";
            case ENOENT -> " (hint: is bpffs mounted at /sys/fs/bpf and the path right?)";
            case EINVAL, 4003 -> " (hint: is the kernel older than docs/compatibility.md's minimum? `tessera check"
                    + " --pre` names what it lacks; the verifier log, if any, is on stderr)";
            case ENOTSUPP, EOPNOTSUPP, ENOSYS -> " (hint: the kernel does not support this operation)";
            case E2BIG, ENOSPC -> " (hint: map full)";
            default -> "";
        };
    }
}
