from pathlib import Path

from harness.backends import load_model
from harness.runner import Run, generate
from harness.store import Store
from harness.types import Request


def test_hf_seeded_samples_differ_and_repeat(tiny_model: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    model = load_model(f"hf:{tiny_model}", store=store)
    req = Request.user("Tell me about lists.", n=4, seed=7, max_tokens=12, temperature=1.0)
    first = model.generate([req])[0]
    texts = [c.text for c in first]
    assert len(set(texts)) == 4, texts
    assert [c.text for c in model.generate([req])[0]] == texts
    # a sample does not depend on its batch: alone, or beside other requests, or with a smaller n
    other = Request.user("Something else entirely", n=3, seed=1, max_tokens=12, temperature=1.0)
    assert [c.text for c in model.generate([other, req])[1]] == texts
    smaller = Request.user("Tell me about lists.", n=2, seed=7, max_tokens=12, temperature=1.0)
    assert [c.text for c in model.generate([smaller])[0]] == texts[:2]
    assert all(c.completion_tokens > 0 and c.prompt_tokens > 0 for c in first)


def test_hf_logprobs_greedy_and_stop(tiny_model: Path, tmp_path: Path) -> None:
    model = load_model(f"hf:{tiny_model}", store=Store(tmp_path / "s.sqlite"))
    greedy = Request.user("Hello", temperature=0.0, max_tokens=6, logprobs=3)
    c = model.generate([greedy])[0][0]
    assert c.logprobs is not None and len(c.logprobs) == c.completion_tokens
    # greedy: each generated token is the most likely one of its step
    assert all(len(step) >= 3 for step in c.logprobs)
    raw = Request(prompt="def f(x):", params=greedy.params)
    assert model.generate([raw])[0][0].prompt_tokens > 0


def test_runner_reuses_and_counts(tiny_model: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    model = load_model(f"hf:{tiny_model}", store=store)
    reqs = [Request.user(f"prompt {i}", n=2, seed=i, max_tokens=5) for i in range(5)]
    run1 = Run.start(store, "t", {})
    out1 = generate(model, reqs, run1, chunk_size=2)
    assert (run1.stats.calls_made, run1.stats.calls_reused) == (5, 0)
    run2 = Run.start(store, "t", {})
    out2 = generate(model, reqs, run2)
    assert (run2.stats.calls_made, run2.stats.calls_reused) == (0, 5)
    assert [[c.text for c in o] for o in out1] == [[c.text for c in o] for o in out2]
    assert store.count_generations() == 10
    assert store.get_run(run2.run_id)["counters"]["calls_reused"] == 5


def test_hf_stream_batches_by_prompt_length(tiny_model: Path, tmp_path: Path) -> None:
    """Batches of batch_size hold prompts of like length (longest first), and each request is handed back as soon as
    its batch is done, with the same text it gets alone."""
    model = load_model(f"hf:{tiny_model}?batch_size=2", store=Store(tmp_path / "s.sqlite"))
    words = [1, 30, 2, 28, 15, 16]  # prompt lengths in words, interleaved short and long
    reqs = [Request.user(" ".join(["word"] * k), seed=3, max_tokens=4, temperature=1.0) for k in words]
    groups = list(model.stream(reqs))
    assert [sorted(i for i, _ in g) for g in groups] == [[1, 3], [4, 5], [0, 2]]
    streamed = {i: comps[0].text for g in groups for i, comps in g}
    alone = {i: model.generate([r])[0][0].text for i, r in enumerate(reqs)}
    assert streamed == alone


def test_top_p_nucleus_on_planted_distributions() -> None:
    import math

    import torch

    from harness.backends.hf_backend import _SeededSampler

    sampler = _SeededSampler([0, 1], temperature=1.0, top_p=0.9, device="cpu")
    vocab = 200
    # row 0, peaked: 0.5, 0.3, 0.15 and 0.05 spread over the other 197 tokens; by hand the mass before each of
    # the top three is 0, 0.5, 0.8 (< 0.9, kept) and before the fourth 0.95 (dropped): the nucleus is those three
    peaked = [0.05 / 197] * vocab
    for token, p in ((17, 0.5), (3, 0.3), (150, 0.15)):
        peaked[token] = p
    # row 1, flat: 1/200 each; the mass before the i-th is i/200, below 0.9 for the first 180 (more than the 64
    # ranked first, so the whole vocabulary is sorted)
    flat = [1 / vocab] * vocab
    logits = torch.tensor([[math.log(p) for p in peaked], [math.log(p) for p in flat]])
    outside = sampler._outside_nucleus(logits)
    assert sorted(torch.nonzero(~outside[0]).flatten().tolist()) == [3, 17, 150]
    assert int((~outside[1]).sum()) == 180
    # above, the flat row made the whole batch go through the full sort; peaked rows alone take the top 64 only,
    # and give the same nucleus
    assert sorted(torch.nonzero(~sampler._outside_nucleus(logits[:1].repeat(2, 1))[0]).flatten().tolist()) == [
        3,
        17,
        150,
    ]


def test_the_static_and_dynamic_kv_caches_give_the_same_samples(tiny_model: Path, tmp_path: Path) -> None:
    reqs = [Request.user(p, n=3, seed=5, max_tokens=12, temperature=0.7, top_p=0.9)
            for p in ("Tell me about lists.", "Hi", "A longer prompt about dictionaries and sets in Python.")]  # fmt: skip
    texts = {}
    for cache in ("static", "dynamic"):
        model = load_model(f"hf:{tiny_model}?cache={cache}", store=Store(tmp_path / f"{cache}.sqlite"))
        texts[cache] = [[c.text for c in comps] for comps in model.generate(reqs)]
    assert texts["static"] == texts["dynamic"]
    assert len({t for comps in texts["static"] for t in comps}) > 3  # sampled, not one repeated text
