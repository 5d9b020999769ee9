#!/usr/bin/env python3
"""What the JIT threw away and recompiled after a point in time, from a HotSpot compilation log.

Usage: python3 bench/jit_deps.py LOG SECONDS [WINDOW]
  LOG      written by an agent started with
           -XX:+UnlockDiagnosticVMOptions -XX:+LogCompilation -XX:LogFile=/tmp/x-%p.log
           (e.g. TESSERA_AGENT_JVM_OPTIONS="<shipped options> ..." tessera local restart-agent ...)
  SECONDS  seconds after the JVM started (the log's own clock) from which to count, e.g. when traffic began
  WINDOW   how many seconds from there (default 10)

Prints (1) compiled methods made not entrant from SECONDS-6 to SECONDS+WINDOW, grouped by what caused it: the class whose
loading failed a class-hierarchy dependency (`dependency_failed ... witness=`), or an uncommon trap; and
(2) every C2 compilation queued from SECONDS to SECONDS+WINDOW. Used for issue 10's warm-up work (bench/profiles/README.md).
"""
import collections
import re
import sys

ATTR = re.compile(r"(\w+)='([^']*)'")


def main(path, t0, window):
    methods = {}
    cause, cause_at = None, 0.0
    invalidated = collections.Counter()
    c2_after = []
    for line in open(path, errors="replace"):
        tag = line.split(" ", 1)[0]
        if tag not in ("<task_queued", "<dependency_failed", "<uncommon_trap", "<make_not_entrant"):
            continue
        d = dict(ATTR.findall(line))
        if "stamp" not in d:
            continue
        stamp = float(d["stamp"])
        if stamp > t0 + window:
            continue
        if tag == "<task_queued":
            if "method" not in d:
                continue
            methods[d["compile_id"]] = d["method"]
            if "level" not in d and stamp >= t0:  # C2 tasks carry no level attribute
                c2_after.append((stamp, d["method"]))
        elif tag == "<dependency_failed":
            cause, cause_at = "class loaded: %s @%.3f" % (d.get("witness"), stamp), stamp
        elif tag == "<uncommon_trap":
            cause, cause_at = "trap %s @%.3f" % (d.get("reason"), stamp), stamp
        elif "zombie" not in d and stamp > t0 - 6:
            # invalidation follows its cause at once; later, the code was replaced by a higher tier's (normal)
            why = cause if cause and stamp - cause_at <= 0.005 else None
            invalidated[(why, d.get("compiler"))] += 1
    print("made not entrant since %.1f s, by cause:" % (t0 - 6))
    def when(item):
        why = item[0][0]
        return float(why.rsplit("@", 1)[1]) if why else 0.0

    for (why, compiler), n in sorted(invalidated.items(), key=when):
        print("  %4d %s code   %s" % (n, compiler, why or "replaced by a higher tier's code (not a deoptimisation)"))
    print("C2 compilations queued from %.1f to %.1f s: %d" % (t0, t0 + window, len(c2_after)))
    for stamp, m in c2_after:
        print("  %8.3f %s" % (stamp, m[:120]))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 10.0)
