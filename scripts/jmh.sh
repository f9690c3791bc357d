#!/usr/bin/env bash
# Runs the kernels' JMH benchmarks (kernels/src/test/java/moed/kernels/jmh). Arguments go to JMH, e.g.
#   scripts/jmh.sh MatVecBenchmark -p type=Q8_0 -p threads=1
#   scripts/jmh.sh -l                      (list benchmarks)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/jdk.sh"
moed_find_jdk || exit 1
moed_find_maven || exit 1
cd "$here"
"$MVN" -q -B -DskipTests -pl kernels -am install >&2
"$MVN" -q -B -pl kernels test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/jmh.classpath >&2
cp="kernels/target/test-classes:kernels/target/classes:$(cat kernels/target/jmh.classpath)"
exec "$JAVA_HOME/bin/java" "${MOED_JVM_FLAGS[@]}" -cp "$cp" org.openjdk.jmh.Main "$@"
