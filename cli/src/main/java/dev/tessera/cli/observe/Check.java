package dev.tessera.cli.observe;

import java.util.List;

/**
 * One check's outcome, like a line of {@code linkerd check}.
 *
 * @param category the group it belongs to (e.g. {@code kernel}, {@code node1})
 * @param name what was checked
 * @param status OK, WARN (works, but should be looked at) or FAIL
 * @param detail what was found
 * @param hint what to do about a WARN or FAIL ({@code null} when OK)
 */
public record Check(String category, String name, Status status, String detail, String hint) {

    /** Outcome of a check. */
    public enum Status { OK, WARN, FAIL }

    public static Check ok(String category, String name, String detail) {
        return new Check(category, name, Status.OK, detail, null);
    }

    public static Check warn(String category, String name, String detail, String hint) {
        return new Check(category, name, Status.WARN, detail, hint);
    }

    public static Check fail(String category, String name, String detail, String hint) {
        return new Check(category, name, Status.FAIL, detail, hint);
    }

    /** True when no check failed (warnings pass). */
    public static boolean passed(List<Check> checks) {
        return checks.stream().noneMatch(c -> c.status() == Status.FAIL);
    }

    /** {@code linkerd check}-style lines grouped by category. */
    public static void print(List<Check> checks, java.io.PrintStream out) {
        String category = null;
        for (Check c : checks) {
            if (!c.category().equals(category)) {
                if (category != null) {
                    out.println();
                }
                category = c.category();
                out.println(category);
                out.println("-".repeat(category.length()));
            }
            String mark = switch (c.status()) {
                case OK -> "[ok]  ";
                case WARN -> "[warn]";
                case FAIL -> "[FAIL]";
            };
            out.println(mark + " " + c.name() + (c.detail() == null || c.detail().isEmpty() ? "" : ": " + c.detail()));
            if (c.hint() != null) {
                out.println("       hint: " + c.hint());
            }
        }
        out.println();
        long failed = checks.stream().filter(c -> c.status() == Status.FAIL).count();
        long warned = checks.stream().filter(c -> c.status() == Status.WARN).count();
        out.println(failed == 0 ? "Status check results are [ok]" + (warned > 0 ? " (" + warned + " warning(s))" : "")
                : "Status check results are [FAIL]: " + failed + " failed, " + warned + " warning(s)");
    }
}
