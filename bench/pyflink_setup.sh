#!/usr/bin/env bash
# Set up PyFlink for bench/nexmark_bench.py, entirely inside bench/.cache (git-ignored):
#   bench/.cache/pyflink-venv   a virtualenv with apache-flink (it pins its own numpy, pandas
#                               and pyarrow, so it stays out of the project's .venv)
#   bench/.cache/jars           the Parquet format for Flink's filesystem connector:
#                               flink-sql-parquet of the installed Flink version, plus the
#                               Hadoop classes it needs (hadoop-client-api, -runtime), and
#                               Flink's Kafka SQL connector (flink-sql-connector-kafka, for
#                               bench/kafka_bench.py; released apart from Flink, for a Flink
#                               minor version: KAFKA_CONNECTOR_VERSION, 5.0.0-2.2 by default)
#   bench/.cache/m2             Maven's local repository for those downloads
# Needs: python3 (3.9-3.12), Java 11/17 on PATH, Maven; the Python package index and Maven
# Central. Re-running is cheap: what is there already is kept.
#
#   bash bench/pyflink_setup.sh              # FLINK_VERSION=2.3.0 PYTHON=python3 by default
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$here/.cache"
venv="$cache/pyflink-venv"
jars="$cache/jars"
flink_version="${FLINK_VERSION:-2.3.0}"
hadoop_version="${HADOOP_VERSION:-3.3.6}"
kafka_connector_version="${KAFKA_CONNECTOR_VERSION:-5.0.0-2.2}"
python="${PYTHON:-python3}"

mkdir -p "$cache" "$jars"
command -v java >/dev/null || { echo "pyflink_setup: java not found (PyFlink needs Java 11 or 17)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "pyflink_setup: mvn not found (needed to fetch the Parquet jars)" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
if ! "$venv/bin/python" -c "import pyflink" 2>/dev/null; then
    "$venv/bin/python" -m pip install --quiet "apache-flink==$flink_version"
fi
installed="$("$venv/bin/python" -c 'import pyflink.version as v; print(v.__version__)')"

fetch() {  # group:artifact:version
    local file="${1#*:}"; file="${file/:/-}.jar"
    [ -f "$jars/$file" ] && return 0
    mvn -q -B dependency:copy -Dartifact="$1" -DoutputDirectory="$jars" -Dmaven.repo.local="$cache/m2"
}
# The Parquet jar must match the installed Flink; drop ones of other versions.
find "$jars" -name 'flink-sql-parquet-*.jar' ! -name "flink-sql-parquet-$installed.jar" -delete
fetch "org.apache.flink:flink-sql-parquet:$installed"
fetch "org.apache.hadoop:hadoop-client-api:$hadoop_version"
fetch "org.apache.hadoop:hadoop-client-runtime:$hadoop_version"
find "$jars" -name 'flink-sql-connector-kafka-*.jar' ! -name "flink-sql-connector-kafka-$kafka_connector_version.jar" -delete
fetch "org.apache.flink:flink-sql-connector-kafka:$kafka_connector_version"

echo "PyFlink $installed ready: $venv; jars: $(cd "$jars" && ls ./*.jar | xargs -n1 basename | tr '\n' ' ')"
