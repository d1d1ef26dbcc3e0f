"""The real vLLM engine (in process) and a real `vllm serve` driven through the openai backend."""

from pathlib import Path

import pytest

from harness.backends import load_model
from harness.runner import Run, generate
from harness.store import Store
from harness.types import Request

pytestmark = pytest.mark.vllm


def test_vllm_engine_seeded_n4(vllm_engine) -> None:
    req = Request.user("Tell me about lists.", n=4, seed=7, max_tokens=12, temperature=1.0, logprobs=2)
    first = vllm_engine.generate([req])[0]
    texts = [c.text for c in first]
    assert len(set(texts)) == 4, texts
    assert [c.text for c in vllm_engine.generate([req])[0]] == texts
    # sample i is seeded seed + i: the first two of n=2 are the first two of n=4
    smaller = Request.user("Tell me about lists.", n=2, seed=7, max_tokens=12, temperature=1.0, logprobs=2)
    assert [c.text for c in vllm_engine.generate([smaller])[0]] == texts[:2]
    c = first[0]
    assert c.completion_tokens == 12 and c.finish_reason == "length" and c.prompt_tokens > 0
    assert c.logprobs is not None and len(c.logprobs) == 12 and all(len(s) >= 2 for s in c.logprobs)
    raw = vllm_engine.generate([Request(prompt="def f(x):", params=req.params)])[0]
    assert len(raw) == 4


def test_vllm_identity_is_content_hash(vllm_engine, tiny_model: Path) -> None:
    assert vllm_engine.identity.startswith(f"vllm:{tiny_model.resolve()}#")


def test_openai_backend_against_vllm_serve(vllm_server_b, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    model = load_model(vllm_server_b.spec + "?concurrency=4", store=store)
    assert model.identity == f"openai:tiny-b@{vllm_server_b.base_url}"
    reqs = [
        Request.user("Hello there", n=3, seed=5, max_tokens=10, temperature=1.0, logprobs=5),
        Request.chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], max_tokens=4),
        Request(prompt="def f(x):", params=Request.user("x", max_tokens=6, logprobs=2).params),
    ]
    run = Run.start(store, "t", {})
    out = generate(model, reqs, run)
    assert [len(o) for o in out] == [3, 1, 1]
    assert len({c.text for c in out[0]}) == 3
    lp = out[0][0].logprobs
    assert lp is not None and len(lp) == out[0][0].completion_tokens and all(len(step) >= 5 for step in lp)
    assert out[2][0].logprobs is not None
    assert run.stats.calls_made == 3 and run.stats.prompt_tokens > 0 and run.stats.completion_tokens >= 10
    # served again from the store, no HTTP call
    run2 = Run.start(store, "t", {})
    assert [[c.text for c in o] for o in generate(model, reqs, run2)] == [[c.text for c in o] for o in out]
    assert run2.stats.calls_made == 0
    model.close()


def test_a_failed_platform_probe_is_one_error_not_a_silent_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # a probe that breaks (here: a platform object without is_cpu) must not read as "not the CPU build", which would
    # turn chunked prefill on and unseed the samples on the CPU build
    import vllm.platforms

    from harness.backends.vllm_backend import _is_cpu_build
    from harness.types import HarnessError

    monkeypatch.setattr(vllm.platforms, "current_platform", object())
    with pytest.raises(
        HarnessError, match=r"^backend vllm: cannot tell whether vLLM is its CPU build \(AttributeError"
    ):
        _is_cpu_build()
