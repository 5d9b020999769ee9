package dev.tessera.agent.redirect.ffi;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import jnr.ffi.Pointer;

/**
 * An open BPF map (a file descriptor) with byte-array keys and values in the layout of the C structs
 * (see {@link RedirectStructs}). Thread-safe: every call uses its own native buffers.
 */
public final class BpfMap implements AutoCloseable {

    /** {@code BPF_ANY}: create or update. */
    public static final long ANY = 0;

    private final Bpf bpf;
    private final String name;
    private final int keySize;
    private final int valueSize;
    private volatile int fd;

    private BpfMap(Bpf bpf, String name, int fd, int keySize, int valueSize) {
        this.bpf = bpf;
        this.name = name;
        this.fd = fd;
        this.keySize = keySize;
        this.valueSize = valueSize;
    }

    /** Opens the map pinned at {@code pinPath}; {@code valueSize} is the total (all CPUs for per-CPU maps). */
    public static BpfMap openPinned(String name, String pinPath, int keySize, int valueSize) {
        Bpf bpf = Bpf.get();
        return new BpfMap(bpf, name, bpf.objGet(pinPath, "map " + name), keySize, valueSize);
    }

    public String name() {
        return name;
    }

    public void update(byte[] key, byte[] value) {
        checkSize("key", key, keySize);
        checkSize("value", value, valueSize);
        Bpf.check(bpf.lib().bpf_map_update_elem(fd(), bpf.direct(key), bpf.direct(value), ANY),
                "map " + name + ": update");
    }

    /** The value for {@code key}, or empty when there is none. */
    public Optional<byte[]> lookup(byte[] key) {
        return read(key, false);
    }

    /** Atomically reads and removes the value for {@code key} (hash maps, kernel 5.14+). */
    public Optional<byte[]> lookupAndDelete(byte[] key) {
        return read(key, true);
    }

    /** Takes the oldest value of a QUEUE map (no key), or empty when the queue is empty. */
    public Optional<byte[]> pop() {
        Pointer value = bpf.direct(valueSize);
        int rc = bpf.lib().bpf_map_lookup_and_delete_elem(fd(), null, value);
        if (rc == -Errno.ENOENT) {
            return Optional.empty();
        }
        Bpf.check(rc, "map " + name + ": pop");
        byte[] out = new byte[valueSize];
        value.get(0, out, 0, valueSize);
        return Optional.of(out);
    }

    /** Removes {@code key}; false when it was absent. */
    public boolean delete(byte[] key) {
        checkSize("key", key, keySize);
        int rc = bpf.lib().bpf_map_delete_elem(fd(), bpf.direct(key));
        if (rc == -Errno.ENOENT) {
            return false;
        }
        Bpf.check(rc, "map " + name + ": delete");
        return true;
    }

    /** Every key, by {@code bpf_map_get_next_key}. */
    public List<byte[]> keys() {
        List<byte[]> keys = new ArrayList<>();
        Pointer next = bpf.direct(keySize);
        Pointer current = null;
        while (true) {
            int rc = bpf.lib().bpf_map_get_next_key(fd(), current, next);
            if (rc == -Errno.ENOENT) {
                return keys;
            }
            Bpf.check(rc, "map " + name + ": get_next_key");
            byte[] k = new byte[keySize];
            next.get(0, k, 0, keySize);
            keys.add(k);
            current = bpf.direct(k);
        }
    }

    /**
     * Counts the keys, stopping at {@code limit} (a hash map whose keys are deleted while it is walked
     * restarts the walk from its first key, so an unbounded walk could go on under churn).
     */
    public int count(int limit) {
        Pointer next = bpf.direct(keySize);
        Pointer current = null;
        int n = 0;
        while (n < limit) {
            int rc = bpf.lib().bpf_map_get_next_key(fd(), current, next);
            if (rc == -Errno.ENOENT) {
                return n;
            }
            Bpf.check(rc, "map " + name + ": get_next_key");
            byte[] k = new byte[keySize];
            next.get(0, k, 0, keySize);
            current = bpf.direct(k);
            n++;
        }
        return n;
    }

    private Optional<byte[]> read(byte[] key, boolean delete) {
        checkSize("key", key, keySize);
        Pointer value = bpf.direct(valueSize);
        Pointer k = bpf.direct(key);
        int rc = delete
                ? bpf.lib().bpf_map_lookup_and_delete_elem(fd(), k, value)
                : bpf.lib().bpf_map_lookup_elem(fd(), k, value);
        if (rc == -Errno.ENOENT) {
            return Optional.empty();
        }
        Bpf.check(rc, "map " + name + (delete ? ": lookup_and_delete" : ": lookup"));
        byte[] out = new byte[valueSize];
        value.get(0, out, 0, valueSize);
        return Optional.of(out);
    }

    private int fd() {
        int f = fd;
        if (f < 0) {
            throw new IllegalStateException("map " + name + " is closed");
        }
        return f;
    }

    private void checkSize(String what, byte[] bytes, int expected) {
        requireNonNull(bytes, what);
        if (bytes.length != expected) {
            throw new IllegalArgumentException(
                    "map " + name + " " + what + ": " + bytes.length + " bytes (expected: " + expected + ")");
        }
    }

    @Override
    public synchronized void close() {
        int f = fd;
        fd = -1;
        bpf.close(f);
    }
}
