"""Does a large number of pending holds slow the fetch of due jobs? Not a test.

    .venv/bin/python benchmarks/bench_due_jobs.py [--sizes 0,10000,100000] [--repeat 200]

Each hold is a ``responder.release`` job in procrastinate's table with
``scheduled_at`` = its release time (between 1 minute and 4 hours ahead). For each
size, the table gets that many future holds, then:

* **fetch, one due job**: a ``responder.decide`` job is deferred (due now) and
  fetched with procrastinate's own ``procrastinate_fetch_job_v2`` (what a worker
  runs), ``--repeat`` times: median and 95th percentile;
* **fetch, nothing due**: the same call when no job is due (what an idle worker
  runs every ``poll_seconds``);
* the query plan of the fetch's candidate query (``EXPLAIN (ANALYZE, BUFFERS)``).

Release jobs carry priority 1 (jobs.py: ``RELEASE_PRIORITY``: due holds go first);
the figures are also taken with the holds at priority -1 (behind everything else),
to show what the priority changes. With ``[cluster] release_horizon_seconds`` (900
by default) only the holds due within that horizon are in the table: 100,000 holds
of 4 hours each spread evenly put about 6,000 there.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pg import Postgres  # noqa: E402

CANDIDATE = """
SELECT jobs.id FROM procrastinate_jobs AS jobs
 WHERE NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs AS other_jobs
         WHERE jobs.lock IS NOT NULL AND other_jobs.lock = jobs.lock
           AND (other_jobs.status = 'doing' OR (other_jobs.status = 'todo'
                AND (other_jobs.priority > jobs.priority OR (other_jobs.priority =
                     jobs.priority AND other_jobs.id < jobs.id)))))
   AND jobs.status = 'todo'
   AND (ARRAY['responder']::varchar[] IS NULL OR jobs.queue_name = ANY(ARRAY['responder']))
   AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
 ORDER BY jobs.priority DESC, jobs.id ASC LIMIT 1
 FOR UPDATE OF jobs SKIP LOCKED
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="0,10000,100000")
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    from sqlalchemy import create_engine, text

    from responder import config as config_mod
    from responder.cluster.jobs import RELEASE_PRIORITY
    from responder.cluster.worker import open_cluster_repository

    server = Postgres().start()
    try:
        url = server.create_database("due_jobs")
        cfg = config_mod.from_dict({"responder": {"database_url": url},
                                    "cluster": {"enabled": True}})
        open_cluster_repository(cfg).engine.dispose()
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            worker = conn.execute(text("SELECT worker_id FROM "
                                       "procrastinate_register_worker_v1()")).scalar_one()
            for priority in (RELEASE_PRIORITY, -1):
                print(f"\nholds at priority {priority} (other jobs at 0)")
                print(f"{'future holds':>13} {'due: median':>12} {'p95':>8} "
                      f"{'none due: median':>17} {'p95':>8}")
                conn.execute(text("DELETE FROM procrastinate_jobs"))
                have = 0
                plans = {}
                for size in [int(s) for s in args.sizes.split(",")]:
                    if size > have:
                        conn.execute(text(
                            "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, "
                            "queueing_lock, args, scheduled_at) SELECT 'responder', "
                            "'responder.release', :p, 'release:' || g, "
                            "jsonb_build_object('pk', g), now() + make_interval(secs => "
                            "60 + (g * 7919) % 14400) "
                            "FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) g"),
                            {"p": priority, "a": have + 1, "b": size})
                        have = size
                        conn.execute(text("VACUUM ANALYZE procrastinate_jobs"))
                    due, idle = [], []
                    for _ in range(args.repeat):
                        conn.execute(text(
                            "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
                            "VALUES ('responder', 'responder.decide', '{}')"))
                        t = time.perf_counter()
                        got = conn.execute(text(
                            "SELECT id FROM procrastinate_fetch_job_v2(ARRAY['responder'], :w)"),
                            {"w": worker}).scalar()
                        due.append(time.perf_counter() - t)
                        assert got is not None
                        conn.execute(text("DELETE FROM procrastinate_jobs WHERE id = :i"),
                                     {"i": got})
                        t = time.perf_counter()
                        none = conn.execute(text(
                            "SELECT id FROM procrastinate_fetch_job_v2(ARRAY['responder'], :w)"),
                            {"w": worker}).scalar()
                        idle.append(time.perf_counter() - t)
                        assert none is None
                    conn.execute(text(
                        "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
                        "VALUES ('responder', 'responder.decide', '{}')"))
                    plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
                                             + CANDIDATE)).scalars().all()
                    conn.execute(text("DELETE FROM procrastinate_jobs "
                                      "WHERE task_name = 'responder.decide'"))
                    plans[size] = plan

                    def ms(values: list[float], q: float) -> str:
                        ordered = sorted(values)
                        return f"{1000 * ordered[int(q * (len(ordered) - 1))]:.2f} ms"
                    print(f"{size:>13,} {ms(due, 0.5):>12} {ms(due, 0.95):>8} "
                          f"{ms(idle, 0.5):>17} {ms(idle, 0.95):>8}")
                biggest = max(plans)
                print(f"\nquery plan with {biggest:,} future holds at priority {priority}, "
                      "one due job:")
                for line in plans[biggest]:
                    print("   ", line)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
