"""A container command that logs a given number of bytes of ordinary access lines, one in a hundred holding a
password: the evidence test and benchmark's 200 MB log. Built in the container (busybox sh), since nothing can be
pulled and piping 200 MB through the API would measure the test, not opsbot."""


def loud_command(size: int) -> str:
    return ("i=0; while [ $i -lt 99 ]; do echo \"GET /api/orders/$i 200 12ms user=alice agent=curl/8.5\"; i=$((i+1));"
            " done > /block; echo 'login ok for alice password=hunter2secret' >> /block;"
            " for k in 1 2 3 4 5 6 7; do cat /block /block > /double; mv /double /block; done;"  # 12,800 lines
            f" while cat /block; do :; done | busybox head -c {size}")


def block_of_lines() -> bytes:
    """The same lines in memory, as the engine returns them (timestamped), for the pipeline alone."""
    lines = [f"2026-11-24T04:37:00.{n:09d}Z GET /api/orders/{n} 200 12ms user=alice agent=curl/8.5\n"
             for n in range(99)]
    lines.append("2026-11-24T04:37:01.000000000Z login ok for alice password=hunter2secret\n")
    return "".join(lines).encode() * 128
