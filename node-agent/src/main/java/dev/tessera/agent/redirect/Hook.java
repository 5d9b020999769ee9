package dev.tessera.agent.redirect;

import dev.tessera.agent.redirect.ffi.Bpf;

/**
 * The programs of {@code redirect.bpf.o}, in attach order: the recording hooks first, the connect hooks
 * that start capturing last, so no captured connection can miss its record.
 */
enum Hook {
    SOCKOPS("tsr_sockops", Bpf.ATTACH_SOCK_OPS),
    GETPEERNAME4("tsr_peername4", Bpf.ATTACH_INET4_GETPEERNAME),
    GETPEERNAME6("tsr_peername6", Bpf.ATTACH_INET6_GETPEERNAME),
    CONNECT4("tsr_connect4", Bpf.ATTACH_INET4_CONNECT),
    CONNECT6("tsr_connect6", Bpf.ATTACH_INET6_CONNECT);

    /** The C function name, also the link's pin file name. */
    final String program;
    /** {@code enum bpf_attach_type}. */
    final int attachType;

    Hook(String program, int attachType) {
        this.program = program;
        this.attachType = attachType;
    }
}
