package dev.tessera.agent.redirect;

import dev.tessera.agent.redirect.ffi.Bpf;
import dev.tessera.agent.redirect.ffi.BpfException;
import dev.tessera.agent.redirect.ffi.LibBpf;
import dev.tessera.agent.redirect.ffi.LinkInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads {@code redirect.bpf.o}, pins its maps and links, and re-adopts what an earlier agent pinned:
 * pinned maps are reused (their contents survive), a pinned link is kept and switched atomically to the
 * freshly loaded program ({@code BPF_LINK_UPDATE}), so restarts never attach a second copy and never
 * leave a window without capture.
 */
final class BpfLoader {

    static final String OBJECT_RESOURCE = "/ebpf/redirect.bpf.o";
    private static final Logger log = LoggerFactory.getLogger(BpfLoader.class);

    private BpfLoader() {}

    /** Loads, configures and attaches; returns the opened maps. */
    static RedirectMaps install(RedirectSettings settings) {
        Pins pins = new Pins(settings.pinDir());
        BpfFs.ensureMounted(pins.root());
        createDirectories(pins.mapsDir());
        createDirectories(pins.linksDir());
        Bpf bpf = Bpf.get();
        LibBpf lib = bpf.lib();
        Path object = extractObject();
        Pointer obj = null;
        int cgroupFd = -1;
        RedirectMaps maps = null;
        try {
            obj = lib.bpf_object__open_file(object.toString(), null);
            if (obj == null) {
                throw new BpfException("bpf_object__open_file(" + OBJECT_RESOURCE + ")", bpf.lastErrno());
            }
            for (String name : Pins.MAPS) {
                Pointer map = lib.bpf_object__find_map_by_name(obj, name);
                if (map == null) {
                    throw new IllegalStateException(OBJECT_RESOURCE + " has no map " + name);
                }
                Bpf.check(lib.bpf_map__set_pin_path(map, pins.map(name).toString()), "map " + name + ": set pin path");
                if (name.equals(Pins.ENROLLED)) {
                    bpf.sizeMap(map, name, pins.map(name).toString(), settings.maxPods());
                }
            }
            Bpf.check(lib.bpf_object__load(obj), "bpf_object__load(" + OBJECT_RESOURCE + ", reusing maps pinned under "
                    + pins.mapsDir() + "; an incompatible older install is removed by uninstall)");
            maps = RedirectMaps.open(pins);
            maps.configure(settings);
            cgroupFd = bpf.openDirectory(settings.cgroupDir().toString());
            long cgroupId = Cgroups.id(settings.cgroupDir());
            for (Hook hook : Hook.values()) {
                attachOrAdopt(bpf, obj, hook, cgroupFd, cgroupId, pins);
            }
            return maps;
        } catch (RuntimeException e) {
            if (maps != null) {
                maps.close();
            }
            throw e;
        } finally {
            if (obj != null) {
                lib.bpf_object__close(obj); // links and pins keep the programs and maps alive
            }
            bpf.close(cgroupFd);
            deleteQuietly(object);
        }
    }

    private static void attachOrAdopt(Bpf bpf, Pointer obj, Hook hook, int cgroupFd, long cgroupId, Pins pins) {
        LibBpf lib = bpf.lib();
        Pointer prog = lib.bpf_object__find_program_by_name(obj, hook.program);
        if (prog == null) {
            throw new IllegalStateException(OBJECT_RESOURCE + " has no program " + hook.program);
        }
        String pin = pins.link(hook).toString();
        if (Files.exists(pins.link(hook))) {
            Pointer link = lib.bpf_link__open(pin);
            if (link == null) {
                throw new BpfException("program " + hook.program + ": bpf_link__open(" + pin + ")", bpf.lastErrno());
            }
            try {
                LinkInfo info = bpf.linkInfo(lib.bpf_link__fd(link), "link " + pin);
                if (info.cgroupId() == cgroupId && info.attachType() == hook.attachType) {
                    Bpf.check(lib.bpf_link__update_program(link, prog),
                            "program " + hook.program + ": update pinned link " + pin);
                    log.info("re-adopted link {} (id {}) on cgroup {}", pin, info.linkId(), cgroupId);
                    return;
                }
                log.warn("pinned link {} is attached to cgroup {} (type {}), not {}: moving it", pin,
                        info.cgroupId(), info.attachType(), cgroupId);
                Bpf.check(lib.bpf_link_detach(lib.bpf_link__fd(link)), "detach stale link " + pin);
            } finally {
                lib.bpf_link__destroy(link);
            }
            deleteQuietly(pins.link(hook));
        }
        Pointer link = lib.bpf_program__attach_cgroup(prog, cgroupFd);
        if (link == null) {
            throw new BpfException("program " + hook.program + ": attach to cgroup fd " + cgroupFd, bpf.lastErrno());
        }
        try {
            Bpf.check(lib.bpf_link__pin(link, pin), "program " + hook.program + ": pin link at " + pin);
        } finally {
            lib.bpf_link__destroy(link); // closes our fd; the pin keeps the link (and the attachment)
        }
    }

    /** Detaches every pinned link (capture stops first), then removes every pin and the directory. */
    static void uninstall(Path pinDir) {
        PeerAuthProgram.uninstall(pinDir); // its pins live under <pinDir>/peerauth
        Pins pins = new Pins(pinDir);
        if (!Files.isDirectory(pins.root())) {
            return;
        }
        List<Hook> hooks = List.of(Hook.values());
        for (int i = hooks.size() - 1; i >= 0; i--) {
            Path pin = pins.link(hooks.get(i));
            if (!Files.exists(pin)) {
                continue;
            }
            Bpf bpf = Bpf.get();
            int fd = bpf.objGet(pin.toString(), "link " + hooks.get(i).program);
            try {
                Bpf.check(bpf.lib().bpf_link_detach(fd), "detach link " + pin);
            } finally {
                bpf.close(fd);
            }
            deleteQuietly(pin);
        }
        for (String map : Pins.MAPS) {
            deleteQuietly(pins.map(map));
        }
        for (Path dir : List.of(pins.linksDir(), pins.mapsDir(), pins.root())) {
            try {
                Files.deleteIfExists(dir);
            } catch (DirectoryNotEmptyException e) {
                throw new IllegalStateException("pin dir " + dir + " holds pins Tessera did not create; left in place");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove " + dir, e);
            }
        }
    }

    private static Path extractObject() {
        try (InputStream in = BpfLoader.class.getResourceAsStream(OBJECT_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(OBJECT_RESOURCE + " is not on the classpath"
                        + " (hint: build ebpf-programs; the agent needs tessera-ebpf-programs.jar)");
            }
            Path tmp = Files.createTempFile("tessera-redirect", ".bpf.o");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + OBJECT_RESOURCE, e);
        }
    }

    private static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create pin dir " + dir + " (hint: is bpffs mounted?)", e);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.warn("cannot remove {}: {}", p, e.toString());
        }
    }
}
