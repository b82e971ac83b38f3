#!/usr/bin/env python3
"""DuckDB baseline for `einvoice bench draw --duckdb`.

Usage: regular_prizes.py RAW_U32_FILE PARQUET_OUT NUMBERS_JSON THREADS [ROUNDS]

Turns the raw little-endian u32 column (the invoices' 8 digits, row order)
into Parquet with pyarrow (not timed), then times DuckDB materialising every
regular-prize winner (row, highest prize) from that Parquet file with the
same rules as einvoice's `match_prizes`. Prints one JSON object:
{"duckdb_s": median seconds, "version": ..., "per_prize": {prize: [count, sum of rows]}}
or {"unavailable": reason} when duckdb / pyarrow cannot be imported.
Install them at bench time with `pip install duckdb pyarrow`.
"""
import json
import statistics
import sys
import time

try:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as e:  # never a fake number: say why
    print(json.dumps({"unavailable": f"python modules duckdb/pyarrow not importable: {e}"}))
    sys.exit(0)


def main():
    raw, parquet, numbers, threads = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    buf = pa.memory_map(raw).read_buffer()
    col = pa.Array.from_buffers(pa.uint32(), len(buf) // 4, [None, buf])
    pq.write_table(pa.table({"number": col}), parquet, row_group_size=1 << 20)

    first = numbers["first"]
    add = numbers["additional_sixth"]

    def inlist(xs):
        return ",".join(str(x) for x in sorted(set(xs)))

    cases = [
        f"WHEN number = {numbers['special']} THEN 'special'",
        f"WHEN number = {numbers['grand']} THEN 'grand'",
        f"WHEN number IN ({inlist(first)}) THEN 'first'",
    ]
    for name, k in [("second", 7), ("third", 6), ("fourth", 5), ("fifth", 4), ("sixth", 3)]:
        m = 10 ** k
        cases.append(f"WHEN number % {m} IN ({inlist(f % m for f in first)}) THEN '{name}'")
    if add:
        cases.append(f"WHEN number % 1000 IN ({inlist(add)}) THEN 'additional_sixth'")
    query = (
        "CREATE OR REPLACE TEMP TABLE winners AS "
        "SELECT file_row_number AS row, prize FROM ("
        f"  SELECT file_row_number, CASE {' '.join(cases)} END AS prize"
        f"  FROM read_parquet('{parquet}', file_row_number = true)"
        ") WHERE prize IS NOT NULL"
    )
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    times = []
    for _ in range(max(1, rounds)):
        t = time.perf_counter()
        con.execute(query)
        times.append(time.perf_counter() - t)
    per = con.execute("SELECT prize, count(*), sum(row) FROM winners GROUP BY prize").fetchall()
    print(json.dumps({
        "duckdb_s": statistics.median(times),
        "version": duckdb.__version__,
        "per_prize": {p: [int(c), int(s)] for p, c, s in per},
    }))


if __name__ == "__main__":
    main()
