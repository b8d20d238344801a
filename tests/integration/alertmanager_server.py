"""A real Alertmanager (Debian's prometheus-alertmanager) on loopback for a test module: started with the given
config, ready when /-/ready answers, stopped afterwards. Missing or not starting fails, never skips."""
from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port


@contextmanager
def running_alertmanager(work: Path, config: str) -> Iterator[httpx.Client]:
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is required (apt-get install prometheus-alertmanager; scripts/test.sh)")
    (work / "alertmanager.yml").write_text(config)
    port = free_port()
    log = (work / "alertmanager.log").open("w")
    process = subprocess.Popen([binary, f"--config.file={work / 'alertmanager.yml'}", f"--storage.path={work / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                               stdout=log, stderr=subprocess.STDOUT)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http.get("/-/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Alertmanager did not start: {(work / 'alertmanager.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield http
    finally:
        http.close()
        process.terminate()
        process.wait(10)
        log.close()
