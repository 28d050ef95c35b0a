"""The registration benchmark reads wrk's report (bench/registration.py): a CI smoke run once
read a "+/- Stdev" column ending in 99% as the 99th percentile."""

from __future__ import annotations

from bench.registration import parse_wrk

REPORT = """Running 1s test @ http://127.0.0.1:40000/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.00ms  10.00ms   81.99%
    Req/Sec     1.00k   100.00     1.20k    50.00%
  Latency Distribution
     50%    1.50ms
     75%    2.00ms
     90%    3.00ms
     99%  812.00us
  1004 requests in 1.00s, 2.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   1003.50
Transfer/sec:      2.00MB
"""


def test_the_percentiles_come_from_their_own_lines():
    result = parse_wrk(REPORT)
    assert result.p50 == 1.5
    assert result.p99 == 0.812
    assert result.requests == 1004
    assert result.non_2xx_3xx == 3
    assert result.rps == 1003.5


def test_a_minute_long_percentile_is_read_in_milliseconds():
    result = parse_wrk(REPORT.replace("812.00us", "1.50m"))
    assert result.p99 == 90_000.0
