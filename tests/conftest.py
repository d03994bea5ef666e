"""Top-level test configuration."""

import os

# The JVMs the suite starts (a local Spark session per process, Spark Connect servers, the jobs
# of the emulated clusters, the examples' Spark steps) live for seconds and crunch kilobytes:
# C1-only compilation and the serial collector halve their start on two cores (a local[2]
# session and its first job: 24 s -> 13 s). spark-submit passes SPARK_SUBMIT_OPTS to every
# driver it launches, silently (JAVA_TOOL_OPTIONS would print itself on every JVM's stderr).
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

pytest_plugins = ["tests.cloud.fixtures"]
