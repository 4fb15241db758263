"""Trip summary: fares per zone from a CSV of trips (a small PySpark 4 ETL).

Reads --input, drops rows whose distance is not a number, writes one row per zone (trips,
total and average fare, fare per km) to --output as CSV and prints the rows. It logs who it
runs as: with `kerberos: true` the platform logs the driver in as the team's principal.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as fn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    spark = SparkSession.builder.appName("trip-summary").getOrCreate()
    ugi = spark.sparkContext._jvm.org.apache.hadoop.security.UserGroupInformation  # type: ignore[union-attr]
    user = ugi.getCurrentUser()
    say(
        f"trip-summary: running as {user.getUserName()} "
        f"(kerberos: {ugi.isSecurityEnabled()}, from keytab: {user.isFromKeytab()})"
    )

    trips = spark.read.option("header", True).csv(args.input)
    clean = trips.withColumn("distance_km", fn.col("distance_km").try_cast("double")).where(
        fn.col("distance_km").isNotNull()
    )
    summary = (
        clean.withColumn("fare", fn.col("fare").cast("double"))
        .groupBy("zone")
        .agg(
            fn.count("*").alias("trips"),
            fn.round(fn.sum("fare"), 2).alias("total_fare"),
            fn.round(fn.avg("fare"), 2).alias("avg_fare"),
            fn.round(fn.sum("fare") / fn.sum("distance_km"), 2).alias("fare_per_km"),
        )
        .orderBy("zone")
    )
    summary.coalesce(1).write.mode("overwrite").option("header", True).csv(args.output)
    for row in summary.collect():
        say(
            f"trip-summary: {row.zone} trips={row.trips} total_fare={row.total_fare} "
            f"avg_fare={row.avg_fare} fare_per_km={row.fare_per_km}"
        )
    spark.stop()


def say(line: str) -> None:
    """Prints ``line`` in one write: the JVM logs to the same stdout, and print() writes the
    text and its newline apart, so a JVM line could land in between."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
