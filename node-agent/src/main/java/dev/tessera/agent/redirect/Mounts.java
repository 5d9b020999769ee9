package dev.tessera.agent.redirect;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Entries of {@code /proc/self/mountinfo}. */
final class Mounts {

    /** One mount: where and which file-system type. */
    record Mount(Path mountPoint, String fsType) {}

    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    private Mounts() {}

    static List<Mount> current() {
        try {
            return parse(Files.readAllLines(MOUNTINFO));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + MOUNTINFO, e);
        }
    }

    /**
     * Parses mountinfo lines: {@code id parent maj:min root MOUNTPOINT opts [optional...] - FSTYPE source
     * superopts}; octal escapes such as {@code \040} in the mount point are decoded.
     */
    static List<Mount> parse(List<String> lines) {
        List<Mount> out = new ArrayList<>();
        for (String line : lines) {
            String[] f = line.trim().split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 5 || dash < 0 || dash + 1 >= f.length) {
                continue;
            }
            out.add(new Mount(Path.of(unescape(f[4])), f[dash + 1]));
        }
        return out;
    }

    private static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
