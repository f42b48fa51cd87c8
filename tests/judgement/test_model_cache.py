"""Fitted models off the event loop: the cache of fitted models, the numpy transforms, the
router's child process, and intake writing routes decided while its rows were written."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import pickle
import time
from pathlib import Path

import numpy as np

from aggregator.intake import Intake
from aggregator.judgement import cache
from aggregator.judgement.fast import FastCharWb, FastWords
from aggregator.judgement.model import read_jsonl
from aggregator.judgement.policy import routing_policy
from aggregator.judgement.router import Example, Router, _text_for_model, shipped_examples
from aggregator.judgement.worker import ModelProcess
from connectors.base import Batch, RawItem
from schemas.config import Settings, SourceConfig
from tests.core.helpers import JsonLinesSource, make_services

DATA = Path(__file__).parent.parent / "data" / "routing"


def _held() -> list[str]:
    return [
        r["text"]
        for n in ("holdout.jsonl", "holdout_handwritten.jsonl")
        for r in read_jsonl(DATA / n)
    ]


def test_fitted_model_is_stored_loaded_and_keyed_by_what_it_was_fitted_from(tmp_path):
    cache.clear_memory()
    first = Router(routing_policy(), directory=tmp_path)
    t0 = time.perf_counter()
    first.model  # noqa: B018
    fit_s = time.perf_counter() - t0
    files = list((tmp_path / "models").glob("router-*.pickle"))
    assert [f.name for f in files] == [f"router-{first.key}.pickle"]

    cache.clear_memory()  # a restart: the model comes from disk, not from a fit
    again = Router(routing_policy(), directory=tmp_path)
    t0 = time.perf_counter()
    again.model  # noqa: B018
    load_s = time.perf_counter() - t0
    assert load_s < fit_s / 3, (load_s, fit_s)
    texts = _held()[:50]
    assert np.allclose(
        first.model.proba_matrix([_text_for_model(t) for t in texts]),
        again.model.proba_matrix([_text_for_model(t) for t in texts]),
    )
    # an operator's correction is new training data: another key, another model
    extra = Example("Pohon tumbang di taman kota menutup jalan", "pohon_taman", "DLH")
    corrected = Router(routing_policy(), examples=[*shipped_examples(), extra], directory=tmp_path)
    assert corrected.key != first.key
    corrected.model  # noqa: B018
    assert len(list((tmp_path / "models").glob("router-*.pickle"))) == 2


def test_a_fit_is_reproducible_and_a_broken_cache_file_is_fitted_over(tmp_path):
    cache.clear_memory()
    a = Router(routing_policy()).fit()
    b = Router(routing_policy()).fit()
    assert np.array_equal(a.clf.coef_, b.clf.coef_)  # fixed seed: the same model twice
    r = Router(routing_policy(), directory=tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / f"router-{r.key}.pickle").write_bytes(b"not a pickle")
    assert r.model.labels  # fitted again instead of failing
    loaded = pickle.loads((tmp_path / "models" / f"router-{r.key}.pickle").read_bytes())
    assert loaded.labels == r.model.labels


def test_numpy_transforms_equal_sklearns_on_the_corpora():
    model = Router(routing_policy()).model
    texts = [_text_for_model(t) for t in _held()]
    texts += ["", "  ", "a", "ab c", "é ü ñ", "x\ty\nz", "?!", "tolong  sekali"]
    for fast, slow in (
        (FastWords(model.words), model.words),
        (FastCharWb(model.chars), model.chars),
    ):
        want, got = slow.transform(texts), fast.transform(texts)
        assert want.shape == got.shape
        assert abs(want - got).max() < 1e-12


async def test_the_child_process_routes_as_the_daemon_would(tmp_path):
    router = Router(routing_policy(), directory=tmp_path)
    process = ModelProcess(router)
    process.start()
    try:
        await process.ready()
        texts = _held()[:40]
        got = await process.route_many(texts)
        assert [d.as_json() for d in got] == [d.as_json() for d in router.route_many(texts)]
        assert process.failures == 0
    finally:
        await process.aclose()


async def test_intake_sets_routes_decided_while_it_wrote_the_batch(pool, tmp_path):
    settings = Settings(
        demo=True, data_dir=tmp_path, agencies={"PUPR": "45", "DISHUB": "46", "DLH": "47"}
    )
    services = dataclasses.replace(
        make_services(pool, settings=settings),
        model_process=ModelProcess(Router.from_settings(settings)),
    )
    services.model_process.start()
    try:
        await services.model_process.ready()
        src = JsonLinesSource(SourceConfig(name="form-pupr", kind="jsonlines", agency="45"))
        texts = [
            "Lampu jalan dpn masjid Al-Ikhlas mati sdh seminggu, gelap bgt",
            "Sampah menumpuk di TPS pasar, bau sekali sudah 5 hari tidak diangkut",
        ] * 30
        items = [
            RawItem(f"r{i}", json.dumps({"text": f"{t} ({i})"}).encode())
            for i, t in enumerate(texts)
        ]
        await Intake(services).ingest(src, Batch(items=items, cursor={"pos": len(items)}))
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT content, agency_id, route_agency, route_reasons FROM complaints"
            )
            events = await conn.fetch("SELECT data FROM events WHERE kind = 'complaint_ingested'")
        assert len(rows) == 60
        for r in rows:
            want = "46" if r["content"].startswith("Lampu") else "47"
            assert r["agency_id"] == want and r["route_reasons"], dict(r)
        assert all("routed_by" in e["data"] for e in events)
    finally:
        await services.model_process.aclose()


async def test_a_child_that_dies_is_replaced_and_its_batch_computed_here(tmp_path):
    import os
    import signal

    from aggregator.judgement.screen import screen_many
    from schemas.config import JunkConfig

    router = Router(routing_policy(), directory=tmp_path)
    process = ModelProcess(router)
    process.start()
    try:
        await process.ready()
        texts = _held()[:20]
        first = process.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        junk = JunkConfig().model_dump_json()
        # both asked in one turn: one write, both answers lost with the child
        screened, routed = await asyncio.gather(
            process.screen_many(texts, junk, True), process.route_many(texts)
        )
        assert process.failures == 2
        assert screened == screen_many(texts, junk, True)
        assert [d.as_json() for d in routed] == [d.as_json() for d in router.route_many(texts)]
        # the next call starts a new child, which answers
        again = await process.route_many(texts)
        assert process.pid not in (None, first)
        assert [d.as_json() for d in again] == [d.as_json() for d in routed]
        assert process.failures == 2
        assert await process.cpu_time() > 0
    finally:
        await process.aclose()
    assert process.pid is None


async def test_models_are_fitted_at_start_up_while_the_loop_runs_on(tmp_path):
    """Nothing cached yet: the child fits both models and caches them; meanwhile the event
    loop keeps ticking, and the daemon's own labeller then loads from the cache."""
    from aggregator.followup.quality import labeller
    from schemas.config import FollowupConfig

    cache.clear_memory()
    cache.set_directory(tmp_path)
    try:
        process = ModelProcess(
            Router(routing_policy(), directory=tmp_path), followup=FollowupConfig()
        )
        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.01)

        t = asyncio.ensure_future(tick())
        t0 = time.perf_counter()
        process.start()
        await process.ready()
        elapsed = time.perf_counter() - t0
        t.cancel()
        assert elapsed > 0.5  # it really fitted (spawn, imports, two fits)
        # a fit on the loop would stop it for seconds; the loop never paused that long
        assert max(b - a for a, b in itertools.pairwise(ticks)) < 1.0
        kinds = sorted(f.name.split("-")[0] for f in (tmp_path / "models").iterdir())
        assert kinds == ["labeller", "router"]
        t0 = time.perf_counter()
        labeller(FollowupConfig()).model  # noqa: B018 - from disk, not fitted
        assert time.perf_counter() - t0 < 0.5
        await process.aclose()
    finally:
        cache.set_directory(None)
