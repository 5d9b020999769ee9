package dev.tessera.agent.redirect.ffi;

import jnr.ffi.Pointer;

/**
 * The part of {@code struct bpf_link_info} (uapi linux/bpf.h) read for cgroup links: {@code type} at 0,
 * {@code id} at 4, {@code prog_id} at 8, then the union at 16 whose cgroup member is
 * {@code { __u64 cgroup_id; __u32 attach_type; }}.
 *
 * @param linkId the kernel's link id (stable while the link lives, e.g. across agent restarts)
 * @param programId the program the link currently runs
 * @param cgroupId the cgroup it is attached to (the inode number of the cgroup directory)
 * @param attachType {@code enum bpf_attach_type}
 */
public record LinkInfo(int type, int linkId, int programId, long cgroupId, int attachType) {

    /** {@code BPF_LINK_TYPE_CGROUP}. */
    public static final int TYPE_CGROUP = 3;

    /** Larger than the kernel's struct; the kernel accepts a zeroed tail. */
    static final int BUFFER_SIZE = 64;

    static LinkInfo decode(Pointer p) {
        return new LinkInfo(p.getInt(0), p.getInt(4), p.getInt(8), p.getLong(16), p.getInt(24));
    }
}
