package dev.tessera.agent.redirect.ffi;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.IntByReference;

/**
 * The libbpf 1.x calls Tessera uses ({@code libbpf.so.1}). Functions returning a pointer give NULL and
 * set errno on failure ({@link SaveError}, read with {@code Runtime.getLastError}); functions returning
 * {@code int} give {@code -errno}. Key and value buffers must be native memory
 * ({@code Memory.allocateDirect}): their addresses go into {@code bpf_attr}.
 */
public interface LibBpf {

    @SaveError
    Pointer bpf_object__open_file(String path, Pointer opts);

    @SaveError
    int bpf_object__load(Pointer obj);

    void bpf_object__close(Pointer obj);

    Pointer bpf_object__find_program_by_name(Pointer obj, String name);

    Pointer bpf_object__find_map_by_name(Pointer obj, String name);

    @SaveError
    int bpf_map__set_pin_path(Pointer map, String path);

    int bpf_map__set_max_entries(Pointer map, int maxEntries);

    @SaveError
    Pointer bpf_program__attach_cgroup(Pointer prog, int cgroupFd);

    @SaveError
    int bpf_link__pin(Pointer link, String path);

    @SaveError
    Pointer bpf_link__open(String path);

    @SaveError
    int bpf_link__update_program(Pointer link, Pointer prog);

    int bpf_link__fd(Pointer link);

    @SaveError
    int bpf_link__destroy(Pointer link);

    @SaveError
    int bpf_obj_get(String path);

    @SaveError
    int bpf_link_detach(int linkFd);

    @SaveError
    int bpf_obj_get_info_by_fd(int fd, Pointer info, IntByReference infoLen);

    @SaveError
    int bpf_prog_query(int targetFd, int attachType, int queryFlags, IntByReference attachFlags, Pointer progIds,
            IntByReference progCount);

    @SaveError
    int bpf_map_update_elem(int fd, Pointer key, Pointer value, long flags);

    @SaveError
    int bpf_map_lookup_elem(int fd, Pointer key, Pointer value);

    @SaveError
    int bpf_map_lookup_and_delete_elem(int fd, Pointer key, Pointer value);

    @SaveError
    int bpf_map_delete_elem(int fd, Pointer key);

    @SaveError
    int bpf_map_get_next_key(int fd, Pointer key, Pointer nextKey);

    int libbpf_num_possible_cpus();
}
