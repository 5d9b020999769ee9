package dev.tessera.agent.redirect.ffi;

import java.util.ArrayList;
import java.util.List;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.byref.IntByReference;

/** Loaded libbpf and libc, with the error handling every caller needs. */
public final class Bpf {

    /** {@code enum bpf_attach_type} values used here. */
    public static final int ATTACH_SOCK_OPS = 3;
    public static final int ATTACH_INET4_CONNECT = 10;
    public static final int ATTACH_INET6_CONNECT = 11;
    public static final int ATTACH_INET4_GETPEERNAME = 29;
    public static final int ATTACH_INET6_GETPEERNAME = 30;

    private static final class Holder {
        static final Bpf INSTANCE = new Bpf();
    }

    private final LibBpf libbpf;
    private final LibC libc;
    private final Runtime runtime;

    private Bpf() {
        try {
            libbpf = LibraryLoader.create(LibBpf.class).failImmediately().load("libbpf.so.1");
        } catch (UnsatisfiedLinkError e) {
            throw new BpfException("cannot load libbpf.so.1 (hint: apt-get install libbpf1)", e);
        }
        libc = LibraryLoader.create(LibC.class).load("c");
        runtime = Runtime.getRuntime(libbpf);
    }

    /** The process-wide instance (loads libbpf on first use). */
    public static Bpf get() {
        return Holder.INSTANCE;
    }

    public LibBpf lib() {
        return libbpf;
    }

    public LibC libc() {
        return libc;
    }

    public Runtime runtime() {
        return runtime;
    }

    /** errno of the last failed call on this thread. */
    public int lastErrno() {
        return runtime.getLastError();
    }

    /** Zeroed native memory whose address may go into a {@code bpf_attr}. */
    public Pointer direct(int size) {
        Pointer p = Memory.allocateDirect(runtime, size);
        p.setMemory(0, size, (byte) 0);
        return p;
    }

    /** Native memory holding {@code bytes}. */
    public Pointer direct(byte[] bytes) {
        Pointer p = Memory.allocateDirect(runtime, bytes.length);
        p.put(0, bytes, 0, bytes.length);
        return p;
    }

    /** Throws when {@code rc} is a libbpf {@code -errno}; returns it otherwise. */
    public static int check(int rc, String what) {
        if (rc < 0) {
            throw new BpfException(what, rc);
        }
        return rc;
    }

    /** Opens a pinned object (map, link, program); {@code what} names it in the error. */
    public int objGet(String path, String what) {
        return check(libbpf.bpf_obj_get(path), what + ": bpf_obj_get(" + path + ")");
    }

    /** Closes a file descriptor; negative ones are ignored. */
    public void close(int fd) {
        if (fd >= 0) {
            libc.close(fd);
        }
    }

    /** Opens a directory, e.g. a cgroup, for BPF attach calls. */
    public int openDirectory(String path) {
        int fd = libc.open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd < 0) {
            throw new BpfException("open(" + path + ")", lastErrno());
        }
        return fd;
    }

    /** {@code bpf_link_info} of a link: (link id, program id, cgroup id, attach type). */
    public LinkInfo linkInfo(int linkFd, String what) {
        Pointer info = direct(LinkInfo.BUFFER_SIZE);
        var len = new IntByReference(LinkInfo.BUFFER_SIZE);
        check(libbpf.bpf_obj_get_info_by_fd(linkFd, info, len), what + ": bpf_obj_get_info_by_fd");
        return LinkInfo.decode(info);
    }

    /**
     * {@code max_entries} of the map pinned at {@code path} (struct bpf_map_info: type, id, key_size,
     * value_size, max_entries, ...), or -1 when nothing is pinned there.
     */
    public int pinnedMapMaxEntries(String path) {
        if (!java.nio.file.Files.exists(java.nio.file.Path.of(path))) {
            return -1;
        }
        int fd = objGet(path, "map");
        try {
            Pointer info = direct(80);
            var len = new IntByReference(80);
            check(libbpf.bpf_obj_get_info_by_fd(fd, info, len), "map " + path + ": bpf_obj_get_info_by_fd");
            return info.getInt(16);
        } finally {
            close(fd);
        }
    }

    /**
     * Sets {@code max_entries} of an opened object's map before load: {@code wanted}, or the size of the map
     * already pinned at {@code pinPath} (libbpf reuses a pinned map only when every parameter matches; a new
     * size takes effect after an uninstall). Returns the size the map will have.
     */
    public int sizeMap(Pointer map, String name, String pinPath, int wanted) {
        int pinned = pinnedMapMaxEntries(pinPath);
        int size = pinned > 0 ? pinned : wanted;
        if (pinned > 0 && pinned != wanted) {
            org.slf4j.LoggerFactory.getLogger(Bpf.class).warn("map {} keeps the {} entries it was pinned with ({} asked);"
                    + " a new size takes effect after an uninstall", name, pinned, wanted);
        }
        check(libbpf.bpf_map__set_max_entries(map, size), "map " + name + ": set max_entries " + size);
        return size;
    }

    /** The ids of the programs attached to the cgroup {@code cgroupFd} for {@code attachType}. */
    public List<Integer> attachedPrograms(int cgroupFd, int attachType) {
        int capacity = 64;
        while (true) {
            Pointer ids = direct(capacity * 4);
            var count = new IntByReference(capacity);
            int rc = libbpf.bpf_prog_query(cgroupFd, attachType, 0, new IntByReference(0), ids, count);
            if (rc == -Errno.ENOSPC && capacity < 65536) {
                capacity *= 4;
                continue;
            }
            check(rc, "bpf_prog_query(attach type " + attachType + ")");
            List<Integer> out = new ArrayList<>(count.intValue());
            for (int i = 0; i < count.intValue(); i++) {
                out.add(ids.getInt(i * 4L));
            }
            return out;
        }
    }

    /** {@code libbpf_num_possible_cpus()}: the per-CPU value count of per-CPU maps. */
    public int possibleCpus() {
        return check(libbpf.libbpf_num_possible_cpus(), "libbpf_num_possible_cpus");
    }
}
