import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

/**
 * Build step (node-agent/pom.xml, package phase, run as a single-file program): rewrites every signed jar in
 * the given directory without its signature files and with only the main attributes of its manifest.
 *
 * <p>Why: BouncyCastle's jars are signed, and a class loaded from a signed jar makes the JDK parse the whole
 * manifest (bcprov's is 820 KB: a section with a digest for each of its ~5,000 entries) and keep it, and
 * verify each class's digest as it loads. Measured on an idle agent (jcmd GC.class_histogram): live heap
 * 14.6 MB with the signed jars, 11.1 MB without (7,273 java.util.jar.Attributes and their maps and strings
 * gone). The agent never registers BouncyCastle as a JCE provider (it uses its ASN.1 and PKCS#10 classes
 * only), which is the one use that needs the signature.
 */
public class UnsignJars {

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        try (Stream<Path> jars = Files.list(dir)) {
            for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
                if (isSigned(jar)) {
                    unsign(jar);
                    System.out.println("unsigned " + dir.relativize(jar));
                }
            }
        }
    }

    private static boolean isSigned(Path jar) throws IOException {
        try (JarFile f = new JarFile(jar.toFile(), false)) {
            return f.stream().anyMatch(e -> isSignature(e.getName()));
        }
    }

    private static boolean isSignature(String name) {
        if (!name.startsWith("META-INF/") || name.indexOf('/', "META-INF/".length()) >= 0) {
            return false;
        }
        return name.endsWith(".SF") || name.endsWith(".RSA") || name.endsWith(".DSA") || name.endsWith(".EC")
                || name.startsWith("META-INF/SIG-");
    }

    private static void unsign(Path jar) throws IOException {
        Path tmp = Files.createTempFile(jar.getParent(), "unsign", ".jar");
        try (JarFile in = new JarFile(jar.toFile(), false)) {
            Manifest manifest = new Manifest();
            if (in.getManifest() != null) {
                manifest.getMainAttributes().putAll(in.getManifest().getMainAttributes()); // no per-entry sections
            }
            try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(tmp), manifest)) {
                for (JarEntry e : in.stream().toList()) {
                    String name = e.getName();
                    if (name.equals(JarFile.MANIFEST_NAME) || isSignature(name)) {
                        continue;
                    }
                    JarEntry copy = new JarEntry(name);
                    copy.setTime(e.getTime());
                    out.putNextEntry(copy);
                    try (InputStream data = in.getInputStream(e)) {
                        data.transferTo(out);
                    }
                    out.closeEntry();
                }
            }
            Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
