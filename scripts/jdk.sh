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

# The JVM flags every moed process needs (the same list as moed.jvm.flags in pom.xml).
MOED_JVM_FLAGS=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED
  -Dchronicle.analytics.disable=true
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED
  --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED
  --add-exports=java.base/sun.nio.ch=ALL-UNNAMED --add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED --add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --sun-misc-unsafe-memory-access=allow)
# Maven itself runs on the JDK found above; keep its own JDK-25 warnings (guava's Unsafe use) out of the output.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

