# Sourced by ./moed and ./test: finds a JDK >= 25 and exports JAVA_HOME, or explains what to install.
moed_java_major() {
  "$1/bin/java" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

moed_find_jdk() {
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for d in /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* \
           /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$d" ] && candidates+=("$d")
  done
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  local c major
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    major=$(moed_java_major "$c")
    if [ -n "$major" ] && [ "$major" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$c"
      return 0
    fi
  done
  echo "moed needs a JDK 25 or newer (for the Vector API and FFM); none was found in JAVA_HOME or /usr/lib/jvm. Install one (e.g. Temurin 25: apt-get install temurin-25-jdk, or from adoptium.net) and set JAVA_HOME to it." >&2
  return 1
}

moed_find_maven() {
  if command -v mvn >/dev/null 2>&1; then
    MVN=mvn
    return 0
  fi
  echo "moed builds with Apache Maven 3.8 or newer, which is not on PATH. Install it (e.g. apt-get install maven)." >&2
  return 1
}

# The JVM flags every moed process needs. Their one home is the moed.jvm.flags property of pom.xml (the tests'
# argLine uses it too); read from there so the launcher, the JMH script and the tests cannot drift apart.
moed_pom="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/pom.xml"
read -r -a MOED_JVM_FLAGS <<< "$(sed -n 's:.*<moed.jvm.flags>\(.*\)</moed.jvm.flags>.*:\1:p' "$moed_pom")"
if [ "${#MOED_JVM_FLAGS[@]}" -eq 0 ]; then
  echo "moed: no <moed.jvm.flags> in $moed_pom" >&2
  return 1 2>/dev/null || exit 1
fi
# Weights copied into the kernels' layout are native memory the JVM counts as direct memory and caps at the
# heap's maximum (a quarter of RAM) unless told otherwise; a 10 GiB model's copies passed that cap on a 24 GiB machine.
# Allow up to the machine's memory (moed keeps its copies within half of it, or of a cgroup's limit).
if [ -r /proc/meminfo ] && [[ "${MOED_JAVA_OPTS:-}" != *MaxDirectMemorySize* ]]; then
  MOED_JVM_FLAGS+=("-XX:MaxDirectMemorySize=$(awk '/^MemTotal:/ {printf "%.0f", $2 * 1024}' /proc/meminfo)")
fi
# Maven itself runs on the JDK found above; keep its own JDK-25 warnings (guava's Unsafe use) out of the output.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

