package dev.tessera.images.harness;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What an agent left in the kernel, read from the host with bpftool: its pinned links (program, attach
 * type, cgroup) and the pod cookies in its enrolled map. Independent of the agent's own reporting.
 */
public final class BpfPins {

    /** One pinned link: bpftool's link id, program id, attach type and cgroup id. */
    public record Link(long id, long progId, String attachType, long cgroupId) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private BpfPins() {}

    /** Every link pinned under {@code <pinDir>/links} and {@code <pinDir>/peerauth/links}, by file name. */
    public static Map<String, Link> links(Path pinDir) throws IOException {
        var out = new TreeMap<String, Link>();
        for (Path dir : List.of(pinDir.resolve("links"), pinDir.resolve("peerauth/links"))) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (var s = Files.list(dir)) {
                for (Path pin : s.sorted().toList()) {
                    JsonNode j = JSON.readTree(Host.run(10, "bpftool", "-j", "link", "show", "pinned", pin.toString()));
                    out.put(pin.getFileName().toString(), new Link(j.path("id").asLong(), j.path("prog_id").asLong(),
                            j.path("attach_type").asText(), j.path("cgroup_id").asLong()));
                }
            }
        }
        return out;
    }

    /** Ids of the links attached to {@code cgroup} (bpftool cgroup show; every program, any owner). */
    public static List<Long> attachedProgramIds(Path cgroup) throws IOException {
        var ids = new ArrayList<Long>();
        for (JsonNode n : JSON.readTree(Host.run(10, "bpftool", "-j", "cgroup", "show", cgroup.toString()))) {
            ids.add(n.path("id").asLong());
        }
        return ids;
    }

    /** Keys (netns cookies) of the pinned enrolled-pods map. */
    public static List<Long> enrolledCookies(Path pinDir) throws IOException {
        var out = new ArrayList<Long>();
        Path map = pinDir.resolve("maps/tsr_enrolled");
        for (JsonNode e : JSON.readTree(Host.run(10, "bpftool", "-j", "map", "dump", "pinned", map.toString()))) {
            JsonNode key = e.has("formatted") ? e.path("formatted").path("key") : e.path("key");
            out.add(key.isArray() ? littleEndian(key) : key.asLong());
        }
        return out;
    }

    private static long littleEndian(JsonNode bytes) {
        long v = 0;
        for (int i = bytes.size() - 1; i >= 0; i--) {
            v = (v << 8) | Long.decode(bytes.get(i).asText());
        }
        return v;
    }

    /** The kernel's id of a cgroup v2 directory (its inode), as link info reports it. */
    public static long cgroupId(Path cgroup) throws IOException {
        return ((Number) Files.getAttribute(cgroup, "unix:ino")).longValue();
    }
}
