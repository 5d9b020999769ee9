package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.redirect.ffi.Bpf;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code tsp_check6} on crafted packets through {@code BPF_PROG_TEST_RUN} (the loaded, attached program; no traffic
 * is sent): the packets a real stack never delivers to a TCP socket but that the program must still refuse for a
 * STRICT pod — a SYN hidden behind headers it cannot walk (ESP, a non-first fragment, too many headers, a
 * truncated header) — and the trust rules at their edges (an all-zero probe address trusts nothing). Addresses from
 * 2001:db8::/32 only, in the program's maps only.
 */
class PeerAuthIpv6HeadersIT {

    static final Path PIN_ROOT = Path.of("/sys/fs/bpf/tessera-test-v6hdr");
    static final String STRICT_POD = "2001:db8:d7::2";
    static final String OPEN_POD = "2001:db8:d7::3";
    static final String RULES_POD = "2001:db8:d7::4";
    static final String CLIENT = "2001:db8:d8::9";
    static final String PROBE = "2001:db8:d7::1";
    static final int TCP = 6;
    static final int SYN = 0x02;
    static final int ACK = 0x10;

    /** libbpf's test-run entry points (test only). */
    public interface TestRun {
        int bpf_prog_get_fd_by_id(int id);

        int bpf_prog_test_run_opts(int progFd, Pointer opts);
    }

    static Path pinDir;
    static PeerAuthProgram program;
    static int progFd = -1;
    static TestRun run;

    @BeforeAll
    static void setUp() throws Exception {
        NetnsFixture.requireRoot();
        pinDir = PIN_ROOT.resolve("agent-" + ProcessHandle.current().pid());
        program = PeerAuthProgram.install(pinDir, Cgroups.v2Root(), InetAddress.getByName("198.18.215.1"), null,
                RedirectSettings.DEFAULT_MAX_PODS);
        sync();
        run = LibraryLoader.create(TestRun.class).failImmediately().load("libbpf.so.1");
        Bpf bpf = Bpf.get();
        int linkFd = bpf.objGet(pinDir.resolve("peerauth/links/" + PeerAuthProgram.PROGRAM).toString(), "link");
        try {
            progFd = run.bpf_prog_get_fd_by_id(bpf.linkInfo(linkFd, "link").programId());
        } finally {
            bpf.close(linkFd);
        }
        assertThat(progFd).as("program fd").isPositive();
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (progFd > 0) {
            Bpf.get().close(progFd);
        }
        if (program != null) {
            program.close();
        }
        if (Files.isDirectory(PIN_ROOT)) {
            try (var dirs = Files.list(PIN_ROOT)) {
                for (Path dir : dirs.toList()) {
                    PeerAuthProgram.uninstall(dir);
                    Files.deleteIfExists(dir);
                }
            }
            Files.deleteIfExists(PIN_ROOT);
        }
    }

    static void sync() throws Exception {
        program.sync(Map.of(
                InetAddress.getByName(STRICT_POD), new PeerAuthProgram.Pod("shop/strict", true, null),
                InetAddress.getByName(OPEN_POD), new PeerAuthProgram.Pod("shop/open", false, null),
                InetAddress.getByName(RULES_POD), new PeerAuthProgram.Pod("shop/rules", false, List.of(
                        new PeerAuthProgram.PlainRule(0, dev.tessera.api.net.IpCidr.parse(CLIENT + "/128"), true)))));
    }

    @Test
    void plainTcpIsJudgedBySynAndAck() throws Exception {
        assertThat(verdict(packet(CLIENT, STRICT_POD, TCP, tcp(SYN)))).as("SYN to STRICT").isZero();
        assertThat(verdict(packet(CLIENT, STRICT_POD, TCP, tcp(SYN | ACK)))).as("SYN-ACK").isOne();
        assertThat(verdict(packet(CLIENT, STRICT_POD, TCP, tcp(ACK)))).as("established").isOne();
        assertThat(verdict(packet(CLIENT, OPEN_POD, TCP, tcp(SYN)))).as("PERMISSIVE").isOne();
        assertThat(verdict(packet(CLIENT, RULES_POD, TCP, tcp(SYN)))).as("allowed by its rule").isOne();
        assertThat(verdict(packet("2001:db8:d8::10", RULES_POD, TCP, tcp(SYN)))).as("a rules miss").isZero();
        assertThat(verdict(packet(CLIENT, "2001:db8:d7::99", TCP, tcp(SYN)))).as("not a meshed pod").isOne();
        assertThat(verdict(packet(STRICT_POD, STRICT_POD, TCP, tcp(SYN)))).as("the pod itself").isOne();
        assertThat(verdict(packet(CLIENT, STRICT_POD, 17, new byte[8]))).as("UDP").isOne();
    }

    @Test
    void walkedExtensionHeadersLeadToTheTcpHeader() throws Exception {
        for (int h : new int[] {0, 43, 60}) {
            assertThat(verdict(packet(CLIENT, STRICT_POD, h, ext(TCP, tcp(SYN))))).as("SYN behind %d", h).isZero();
            assertThat(verdict(packet(CLIENT, STRICT_POD, h, ext(TCP, tcp(ACK))))).as("ACK behind %d", h).isOne();
            assertThat(verdict(packet(CLIENT, STRICT_POD, h, ext(17, new byte[8])))).as("UDP behind %d", h).isOne();
        }
        assertThat(verdict(packet(CLIENT, STRICT_POD, 44, fragment(TCP, 0, tcp(ACK))))).as("first fragment, ACK").isOne();
        assertThat(verdict(packet(CLIENT, STRICT_POD, 51, ah(TCP, tcp(ACK))))).as("AH, ACK").isOne();
        assertThat(verdict(packet(CLIENT, STRICT_POD, 51, ah(TCP, tcp(SYN))))).as("AH, SYN").isZero();
        assertThat(verdict(packet(CLIENT, RULES_POD, 60, ext(TCP, tcp(SYN))))).as("rules see the ports behind it")
                .isOne();
    }

    /** What the program cannot see past might hide a SYN: dropped where plaintext is judged, passed elsewhere. */
    @Test
    void headersItCannotWalkFailClosedForStrictAndRulesPods() throws Exception {
        byte[] tooMany = tcp(SYN);
        for (int i = 0; i < 9; i++) {
            tooMany = ext(i == 0 ? TCP : 60, tooMany);
        }
        var opaque = Map.of(
                "ESP", packet(CLIENT, STRICT_POD, 50, new byte[32]),
                "a later fragment", packet(CLIENT, STRICT_POD, 44, fragment(TCP, 8, tcp(SYN))),
                "an experimental header", packet(CLIENT, STRICT_POD, 253, ext(TCP, tcp(SYN))),
                "nine extension headers", packet(CLIENT, STRICT_POD, 60, tooMany),
                "a header longer than the packet", packet(CLIENT, STRICT_POD, 60, new byte[] {TCP, 9}),
                "a TCP header cut short", packet(CLIENT, STRICT_POD, TCP, new byte[10]));
        long dropped = program.counters().get(InetAddress.getByName(STRICT_POD)).dropped();
        for (var e : opaque.entrySet()) {
            byte[] p = e.getValue();
            assertThat(verdict(p)).as("STRICT, %s", e.getKey()).isZero();
            assertThat(verdict(retarget(p, RULES_POD))).as("rules, %s", e.getKey()).isZero();
            assertThat(verdict(retarget(p, OPEN_POD))).as("PERMISSIVE, %s", e.getKey()).isOne();
        }
        assertThat(program.counters().get(InetAddress.getByName(STRICT_POD)).dropped()).isEqualTo(dropped + opaque.size());
        byte[] eight = tcp(SYN);
        for (int i = 0; i < 8; i++) {
            eight = ext(i == 0 ? TCP : 60, eight);
        }
        assertThat(verdict(packet(CLIENT, RULES_POD, 60, eight))).as("eight headers are walked").isOne();
    }

    @Test
    void aRecordedDeliveryAndTheProbeAddressAreTrustedButAZeroProbeAddressTrustsNothing() throws Exception {
        assertThat(verdict(packet("::", STRICT_POD, TCP, tcp(SYN)))).as("no trusted IPv6 source: :: is none").isZero();
        assertThat(verdict(packet(PROBE, STRICT_POD, TCP, tcp(SYN)))).isZero();
        var local = new InetSocketAddress(CLIENT, 40000);
        var pod = new InetSocketAddress(STRICT_POD, 7000);
        assertThat(program.addDelivery(local, pod)).isTrue();
        try {
            assertThat(verdict(packet(CLIENT, STRICT_POD, TCP, tcp(SYN)))).as("the recorded 4-tuple").isOne();
            assertThat(verdict(packet(CLIENT, STRICT_POD, TCP, tcp(SYN, 40001, 7000)))).as("another port").isZero();
        } finally {
            program.removeDelivery(local, pod);
        }
        assertThat(verdict(packet(CLIENT, STRICT_POD, TCP, tcp(SYN)))).as("forgotten").isZero();
        // the agent restarts with a trusted IPv6 probe address: written into every IPv6 pod at the next sync
        program.close();
        program = PeerAuthProgram.install(pinDir, Cgroups.v2Root(), InetAddress.getByName("198.18.215.1"),
                InetAddress.getByName(PROBE), RedirectSettings.DEFAULT_MAX_PODS);
        sync();
        assertThat(verdict(packet(PROBE, STRICT_POD, TCP, tcp(SYN)))).as("the probe address").isOne();
        assertThat(verdict(packet("::", STRICT_POD, TCP, tcp(SYN)))).isZero();
    }

    // ------------------------------------------------------------------ packets

    /** The program's return code for {@code packet} (an Ethernet frame): 1 pass, 0 drop. */
    static int verdict(byte[] packet) {
        Bpf bpf = Bpf.get();
        Pointer data = bpf.direct(packet);
        Pointer opts = bpf.direct(80); // struct bpf_test_run_opts
        opts.setMemory(0, 80, (byte) 0);
        opts.putLong(0, 80);
        opts.putAddress(8, data.address());
        opts.putInt(24, packet.length);
        opts.putInt(60, 1); // repeat
        int rc = run.bpf_prog_test_run_opts(progFd, opts);
        assertThat(rc).as("bpf_prog_test_run_opts").isZero();
        return opts.getInt(56);
    }

    /** Ethernet + IPv6 header ({@code next}) + payload. */
    static byte[] packet(String src, String dst, int next, byte[] payload) throws Exception {
        var out = new ByteArrayOutputStream();
        out.write(new byte[12]);
        out.write(new byte[] {(byte) 0x86, (byte) 0xdd});
        out.write(new byte[] {0x60, 0, 0, 0, (byte) (payload.length >> 8), (byte) payload.length, (byte) next, 64});
        out.write(InetAddress.getByName(src).getAddress());
        out.write(InetAddress.getByName(dst).getAddress());
        out.write(payload);
        return out.toByteArray();
    }

    static byte[] retarget(byte[] packet, String dst) throws Exception {
        byte[] p = packet.clone();
        System.arraycopy(InetAddress.getByName(dst).getAddress(), 0, p, 14 + 24, 16);
        return p;
    }

    static byte[] tcp(int flags) {
        return tcp(flags, 40000, 7000);
    }

    /** A 20-byte TCP header. */
    static byte[] tcp(int flags, int sport, int dport) {
        byte[] t = new byte[20];
        t[0] = (byte) (sport >> 8);
        t[1] = (byte) sport;
        t[2] = (byte) (dport >> 8);
        t[3] = (byte) dport;
        t[12] = 0x50;
        t[13] = (byte) flags;
        return t;
    }

    /** An 8-byte hop-by-hop / routing / destination options header (PadN) before {@code rest}. */
    static byte[] ext(int next, byte[] rest) {
        byte[] h = new byte[8 + rest.length];
        h[0] = (byte) next;
        h[2] = 1;
        h[3] = 4;
        System.arraycopy(rest, 0, h, 8, rest.length);
        return h;
    }

    /** A fragment header at {@code offset} (8-byte units times 8) before {@code rest}. */
    static byte[] fragment(int next, int offset, byte[] rest) {
        byte[] h = new byte[8 + rest.length];
        h[0] = (byte) next;
        h[2] = (byte) (offset >> 8);
        h[3] = (byte) (offset & 0xf8);
        System.arraycopy(rest, 0, h, 8, rest.length);
        return h;
    }

    /** A 12-byte AH header (length field 1: (1 + 2) * 4 bytes) before {@code rest}. */
    static byte[] ah(int next, byte[] rest) {
        byte[] h = new byte[12 + rest.length];
        h[0] = (byte) next;
        h[1] = 1;
        System.arraycopy(rest, 0, h, 12, rest.length);
        return h;
    }
}
