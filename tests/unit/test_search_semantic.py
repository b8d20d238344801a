"""Semantic ranking, the optional extra opsbot[semantic] (bot/semantic.py): the model is read from the installed
wheel's files with no network, hit@3 on the labelled set is printed and held at 0.85, the vectors are stored beside
the index, and without the extra the core imports and searches by full text alone. The extra is required here
(scripts/test.sh installs it): without it these tests fail. (Run on PostgreSQL by
tests/contract/test_on_postgres_search_semantic.py.)"""
from __future__ import annotations

import subprocess
import sys
import time
from array import array

import pytest

from bot.semantic import load_embedder
from tests.unit.test_search_quality import hit_at_3


@pytest.fixture(scope="module")
def embedder():
    loaded = load_embedder()
    assert loaded is not None, "the semantic extra is not installed: pip install -e '.[test,semantic]'"
    return loaded


def test_semantic_hit_at_3_on_the_labelled_set(store, clock, capsys, embedder):
    score = hit_at_3(store, clock, embedder.embed)
    with capsys.disabled():
        print(f"\nsemantic hit@3 ({store.url.split(':')[0]}): {score:.2f}")
    assert score >= 0.85


def test_vectors_are_stored_beside_the_index_and_rebuilt(store, clock, embedder):
    from bot.app import build_services
    from bot.config import Catalog

    services = build_services(store, Catalog(), clock=clock, embed=embedder.embed)
    incident = services.incidents.open("U_BOB", "P2", "TLS certificate expired on the gateway")
    stored = store.search_vectors([incident.number])[incident.number]
    assert len(array("f", stored)) == 256
    with store._write() as db:
        db.execute("DELETE FROM search_vectors")
    assert store.search_vectors([incident.number]) == {}
    services.search.reindex()
    assert store.search_vectors([incident.number]) == {incident.number: stored}


def test_the_model_loads_from_the_package_without_network(tmp_path):
    code = ("import socket\n"
            "def refuse(*a, **k): raise OSError('no network in this test')\n"
            "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
            "from bot.semantic import load_embedder\n"
            "e = load_embedder(); assert e is not None\n"
            "import sys; assert 'wordllama' not in sys.modules  # its import would configure the root logger\n"
            "print(len(e.embed(['disk full on the database host'])[0]))")
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(256 * 4)


def test_one_incident_embeds_in_under_50_ms(embedder):
    text = "Postgres connection pool exhausted on api\n" + "pgbouncer shows all server connections in use. " * 60
    embedder.embed([text])
    began = time.perf_counter()
    for _ in range(20):
        embedder.embed([text])
    assert (time.perf_counter() - began) / 20 < 0.05


BLOCKED = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('wordllama', 'numpy', 'tokenizers', 'safetensors'):
            raise ImportError(f'{name} blocked: the semantic extra is not installed')
sys.meta_path.insert(0, Block())
import importlib.util
importlib.util.find_spec = lambda name, *a: None if name == 'wordllama' else _find(name, *a)
"""


def test_without_the_extra_the_core_imports_and_searches_by_full_text(tmp_path):
    code = ("import importlib.util; _find = importlib.util.find_spec\n" + BLOCKED +
            "from datetime import UTC, datetime\n"
            "from bot.app import build_services\nfrom bot.config import Catalog\nfrom bot.store import open_store\n"
            "from bot.core.search import SearchRequest\nfrom bot.semantic import load_embedder\n"
            "assert load_embedder() is None\n"
            f"store = open_store('sqlite:///{tmp_path}/s.db')\n"
            "services = build_services(store, Catalog())\n"
            "services.incidents.open('U_A', 'P2', 'Disk full on the database host')\n"
            "found = services.search.search(SearchRequest('disk', include_open=True), None)\n"
            "assert [f.incident.id for f in found] == ['INC-1'], found\n"
            "assert not any(m.split('.')[0] in ('numpy', 'wordllama') for m in sys.modules)\n"
            "print('full text only')")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("full text only")
